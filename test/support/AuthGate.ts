import { Effect } from "effect"
import { createServer } from "node:http"

export interface AuthAnswer {
  readonly status: number
  readonly body: string
}

// An auth server in front of another (or answering by itself) that can hold refresh calls until released, so a
// refresh can be stalled at a known point. Everything it was sent is recorded; holds are released when it stops.
export const authGate = Effect.acquireRelease(
  Effect.promise(async () => {
    const received: Array<unknown> = []
    let answer: (body: string) => Promise<AuthAnswer> = async () => ({ status: 500, body: "" })
    let held: Promise<void> | undefined
    let release = () => {}
    const arrivals: Array<() => void> = []

    const server = createServer((req, res) => {
      let text = ""
      req.on("data", (chunk: Buffer) => (text += chunk.toString()))
      req.on("end", () => {
        received.push(JSON.parse(text))
        arrivals.splice(0).forEach((arrived) => arrived())
        // A forward that fails (the server behind already stopped) ends the call as a connection drop would.
        void (held ?? Promise.resolve()).then(() => answer(text)).then(
          (out) => res.writeHead(out.status, { "content-type": "application/json" }).end(out.body),
          () => res.destroy()
        )
      })
    })
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    const address = server.address()
    const url = `http://127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}`
    return {
      url,
      received,
      // Answer as the auth server at `authUrl` does.
      forwardTo: (authUrl: string) => {
        answer = async (body) => {
          const response = await fetch(`${authUrl}/oauth/token`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body
          })
          return { status: response.status, body: await response.text() }
        }
      },
      answerWith: (out: AuthAnswer) => {
        answer = async () => out
      },
      hold: () => {
        held = new Promise<void>((resolve) => (release = resolve))
      },
      release: () => {
        held = undefined
        release()
      },
      // Resolves once `count` calls have arrived (held or not).
      arrived: (count: number) =>
        new Promise<void>((resolve) => {
          const check = () => (received.length >= count ? resolve() : arrivals.push(check))
          check()
        }),
      close: () => {
        release()
        return new Promise<void>((done) => server.close(() => done()).closeAllConnections())
      }
    }
  }),
  (gate) => Effect.promise(gate.close)
)

export type AuthGate = Effect.Effect.Success<typeof authGate>
