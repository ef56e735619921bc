import { SqlClient } from "@effect/sql"
import { Effect, Option } from "effect"
import { type Binding, sessionKeyOf } from "../SessionStore/SessionsRepo.ts"
import { makeBatcher } from "../Sql/GroupCommit.ts"
import { type Attempt, type End, type Journal as Batch, RequestsRepo, type Started } from "./RequestsRepo.ts"

// What one caller writes: any of these, in one statement with whatever else is queued.
interface Entry {
  readonly start?: Started
  readonly attempt?: Attempt
  readonly end?: End
  readonly bindings?: ReadonlyArray<Binding>
}

// One statement binds a key once: of several bindings of the same key in a batch, the last one queued wins.
const lastOfEach = (bindings: ReadonlyArray<Binding>) => {
  const byKey = new Map<string, Binding>()
  for (const binding of bindings) byKey.set(sessionKeyOf(binding), binding)
  return [...byKey.values()]
}

const batchOf = (entries: ReadonlyArray<Entry>): Batch => ({
  starts: entries.flatMap((entry) => entry.start ?? []),
  attempts: entries.flatMap((entry) => entry.attempt ?? []),
  ends: entries.flatMap((entry) => entry.end ?? []),
  bindings: lastOfEach(entries.flatMap((entry) => entry.bindings ?? []))
})

// Every row the request path writes — request rows, attempt rows, their ends, session bindings — goes through one
// group commit: whatever queued while the last statement ran is written in the next one, whatever its kind, so under
// load a request costs a fraction of a statement (GroupCommit.ts: a lone request writes its row at once, itself). A
// row written inside a transaction (a counted key's admission) belongs to that transaction and is written in it.
export class Journal extends Effect.Service<Journal>()("Gateway/Journal", {
  scoped: Effect.gen(function*() {
    const repo = yield* RequestsRepo
    const { submit } = yield* makeBatcher(
      "request journal",
      (entries: ReadonlyArray<Entry>) => Effect.as(repo.write(batchOf(entries)), entries.map(() => undefined))
    )
    const write = (entry: Entry) =>
      Effect.flatMap(
        Effect.serviceOption(SqlClient.TransactionConnection),
        (transaction) => Option.isSome(transaction) ? repo.write(batchOf([entry])) : submit(entry)
      )
    return {
      // a request's row, with its first attempt's when that is known
      start: (start: Started, attempt?: Attempt) => write(attempt === undefined ? { start } : { start, attempt }),
      attempt: (attempt: Attempt) => write({ attempt }),
      end: (end: End) => write({ end }),
      bind: (bindings: ReadonlyArray<Binding>) => write({ bindings })
    } as const
  }),
  dependencies: [RequestsRepo.Default]
}) {}
