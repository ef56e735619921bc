import { Data, Effect, Redacted } from "effect"
import pg from "pg"

export class NoticesLost extends Data.TaggedError("NoticesLost")<{ readonly cause: unknown }> {}

// Listens on `channel` over a connection of its own and calls `onNotice` for each notice, until that connection is
// lost: then it fails, and the caller listens again (and reloads, for what it missed meanwhile). Written here on
// node-postgres rather than with PgClient.listen, whose stream swallows the listening connection's errors and stays
// open, silent, after the connection is gone.
export const listen = (options: {
  readonly url: Redacted.Redacted
  readonly channel: string
  readonly onListening: Effect.Effect<void>
  readonly onNotice: () => void
}) =>
  Effect.scoped(Effect.gen(function*() {
    const client = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const client = new pg.Client({ connectionString: Redacted.value(options.url) })
        // An error after the watch below is gone (while closing) must not be an unhandled 'error' event.
        client.on("error", () => undefined)
        return client
      }),
      (client) => Effect.promise(() => client.end().catch(() => undefined))
    )
    const lost = Effect.async<never, NoticesLost>((resume) => {
      const fail = (cause: unknown) => resume(Effect.fail(new NoticesLost({ cause })))
      const ended = () => fail("the connection ended")
      client.on("error", fail)
      client.on("end", ended)
      return Effect.sync(() => {
        client.off("error", fail)
        client.off("end", ended)
      })
    })
    const ready = Effect.tryPromise({
      try: async () => {
        await client.connect()
        client.on("notification", (message) => {
          if (message.channel === options.channel) options.onNotice()
        })
        await client.query(`LISTEN ${client.escapeIdentifier(options.channel)}`)
      },
      catch: (cause) => new NoticesLost({ cause })
    })
    // The lost-connection watch is in place before the connection exists, so no error goes unseen.
    yield* Effect.raceFirst(lost, Effect.zipRight(ready, Effect.zipRight(options.onListening, Effect.never)))
  }))
