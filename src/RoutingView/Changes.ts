import { SqlClient } from "@effect/sql"
import { Effect, Option } from "effect"

// What this process changed in routing state (a rest, a circuit, an account's status, a Pool's members or strategy)
// reaches its own routing view before the write's caller goes on: the next request here sees it, without waiting for
// the database's change notice. A process with no routing view (the CLI) has nobody listening, and pays nothing.
export class RoutingChanges extends Effect.Service<RoutingChanges>()("Gateway/RoutingChanges", {
  sync: () => {
    const listeners = new Set<Effect.Effect<void>>()
    // Inside a transaction nothing is announced (a reload now would not see the change, and on the embedded
    // database would wait for the connection the transaction holds): whoever commits it announces it.
    const changed = Effect.flatMap(
      Effect.serviceOption(SqlClient.TransactionConnection),
      (transaction) =>
        Option.isSome(transaction)
          ? Effect.void
          : Effect.suspend(() => Effect.forEach(listeners, (listener) => listener, { discard: true }))
    )
    return {
      // `write`, then every listener, whatever the write did
      after: <A, E, R>(write: Effect.Effect<A, E, R>) => Effect.ensuring(write, changed),
      listen: (listener: Effect.Effect<void>) =>
        Effect.acquireRelease(
          Effect.sync(() => listeners.add(listener)),
          () => Effect.sync(() => listeners.delete(listener))
        )
    } as const
  }
}) {}
