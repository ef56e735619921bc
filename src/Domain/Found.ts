import { Effect, Option } from "effect"
import { NotFound } from "./Errors.ts"

export const orNotFound =
  (kind: NotFound["kind"], id: string) => <A, E, R>(self: Effect.Effect<Option.Option<A>, E, R>) =>
    Effect.flatMap(self, (found) =>
      Option.match(found, {
        onNone: () => Effect.fail(new NotFound({ kind, id })),
        onSome: (value) => Effect.succeed(value)
      }))
