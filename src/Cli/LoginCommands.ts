import { Args, Command, Options } from "@effect/cli"
import { Console, Effect, Either, Schedule } from "effect"
import { createServer, type ServerResponse } from "node:http"
import { createInterface } from "node:readline"
import { SignInFailed } from "../Domain/Errors.ts"
import { type SignInOutcome, SignIns, type SignInTarget } from "../SignIns.ts"
import { callbackPorts } from "../SignIns/Browser.ts"
import { describeAccount } from "./AccountLine.ts"
import { emit, json } from "./Output.ts"

const device = Options.boolean("device").pipe(
  Options.withDescription("sign in with a device code, entered in a browser anywhere (for a server without one)")
)

// Ctrl-C: the flow can no longer finish, nothing is saved, and the process ends as an interrupted one does.
const cancelledOnInterrupt = (id: string) =>
  Effect.onInterrupt(() =>
    Effect.gen(function*() {
      yield* Effect.flatMap(SignIns, (signIns) => signIns.cancel(id)).pipe(Effect.ignore)
      yield* Console.error("codex-pooler: sign-in cancelled; nothing was saved")
      process.exitCode = 130
    })
  )

// A poll that could not reach the auth server is tried again (a blip must not end a 15-minute sign-in), at most a
// few times in a row.
const transient = Schedule.recurWhile((error: unknown) =>
  error instanceof SignInFailed && error.reason === "auth_server"
)
  .pipe(Schedule.intersect(Schedule.recurs(3)), Schedule.intersect(Schedule.spaced("2 seconds")))

const deviceSignIn = (target: SignInTarget) =>
  Effect.gen(function*() {
    const signIns = yield* SignIns
    const started = yield* signIns.startDevice(target)
    yield* Console.log(`open ${started.verificationUrl}`)
    yield* Console.log(`enter code ${started.userCode}`)
    const poll = Effect.gen(function*() {
      let interval = started.intervalSeconds
      for (;;) {
        // Codex polls at the server's interval, without pause when it says 0; a quarter second at least here.
        yield* Effect.sleep(`${Math.max(interval * 1000, 250)} millis`)
        const outcome: SignInOutcome = yield* signIns.pollDevice(started.id).pipe(Effect.retry(transient))
        if (outcome.status === "done") return outcome.account
        interval = outcome.intervalSeconds
      }
    })
    return yield* poll.pipe(cancelledOnInterrupt(started.id))
  })

interface Received {
  readonly address: string
  readonly answer: (ok: boolean, text: string) => void
}

const page = (ok: boolean, text: string) =>
  `<!doctype html><meta charset="utf-8"><title>Codex Pooler</title><p>${ok ? "Signed in" : "Sign-in failed"}: ${
    text.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`)
  }</p><p>You can close this tab.</p>`

// The browser's redirect, where it can reach this machine: 127.0.0.1 on Codex's callback port. A port another
// program holds leaves the paste as the only way.
const callbackListener = Effect.async<Received>((resume) => {
  const server = createServer((request, response: ServerResponse) => {
    const path = (request.url ?? "").split("?")[0]
    if (request.method !== "GET" || path !== "/auth/callback") {
      response.writeHead(404, { "content-type": "text/plain" }).end("not found")
      return
    }
    resume(Effect.succeed({
      address: `http://localhost:${callbackPorts[0]}${request.url ?? ""}`,
      // The browser has its page: the listener has served its one purpose and lets the process end.
      answer: (ok, text) =>
        response.writeHead(ok ? 200 : 400, { "content-type": "text/html; charset=utf-8", connection: "close" })
          .end(page(ok, text), () => server.close())
    }))
  })
  server.on("error", () => server.close())
  server.listen(Number(callbackPorts[0]), "127.0.0.1")
  return Effect.sync(() => {
    server.closeAllConnections()
    server.close()
  })
})

// The address pasted on stdin: its first non-empty line. At the end of input (nothing will be pasted) it waits on.
const pastedAddress = Effect.async<Received>((resume) => {
  const lines = createInterface({ input: process.stdin, terminal: false })
  // Closing the reader leaves a piped stdin open, which would keep the process alive: it is let go too.
  const release = () => {
    lines.close()
    process.stdin.destroy()
  }
  lines.on("line", (line) => {
    if (line.trim() === "") return
    release()
    resume(Effect.succeed({ address: line, answer: () => undefined }))
  })
  return Effect.sync(release)
})

const browserSignIn = (target: SignInTarget) =>
  Effect.gen(function*() {
    const signIns = yield* SignIns
    const started = yield* signIns.startBrowser(target)
    yield* Console.log(`open ${started.authorizeUrl}`)
    yield* Console.log(
      "sign in there; if that browser cannot reach this machine, paste here the address it ends on " +
        "(http://localhost:1455/auth/callback?code=…)"
    )
    const received = yield* Effect.race(callbackListener, pastedAddress).pipe(cancelledOnInterrupt(started.id))
    const outcome = yield* Effect.either(signIns.finishBrowser(received.address))
    received.answer(
      Either.isRight(outcome),
      Either.isRight(outcome) ? "the account is in the Pool" : outcome.left.message
    )
    const finished = yield* outcome
    if (finished.status === "done") return finished.account
    return yield* new SignInFailed({ reason: "auth_server", message: "the sign-in did not finish" })
  })

const signIn = (target: SignInTarget, useDevice: boolean, asJson: boolean, verb: string) =>
  Effect.gen(function*() {
    const account = yield* (useDevice ? deviceSignIn(target) : browserSignIn(target))
    yield* emit(asJson, account, () => `${verb} account ${describeAccount(account)}`)
  })

export const loginCommand = Command.make("login", {
  pool: Options.text("pool").pipe(Options.withDescription("slug of the pool to add the account to")),
  device,
  json
}, (input) => signIn({ poolSlug: input.pool }, input.device, input.json, "signed in")).pipe(
  Command.withDescription(
    "add a ChatGPT account by signing in: in a browser (the address it ends on may be pasted back) or by device code"
  )
)

export const reloginCommand = Command.make(
  "relogin",
  { id: Args.text({ name: "id" }), device, json },
  (input) => signIn({ relogin: input.id }, input.device, input.json, "signed in again")
).pipe(
  Command.withDescription(
    "sign an account in again (after reauth_required); refused, writing nothing, if another ChatGPT user signs in"
  )
)
