import { startFakeUpstream } from "../test/FakeUpstream/FakeUpstream.ts"

// The fake Codex backend in a process of its own. Prints one JSON line: its URLs and both accounts' auth.json.
const fake = await startFakeUpstream({ accounts: [{}, {}] })

// The fake records every request (headers, body, sent events); forget them so memory stays flat under load.
const forget = setInterval(() => fake.reset(), 1_000)

process.stdout.write(`${
  JSON.stringify({
    url: fake.url,
    authUrl: fake.authUrl,
    auth: fake.accounts().map((account) => fake.authJson(account.accountId))
  })
}\n`)

let stopping = false
const stop = () => {
  if (stopping) return
  stopping = true
  clearInterval(forget)
  fake.close().then(() => process.exit(0), () => process.exit(1))
}
process.once("SIGINT", stop)
process.once("SIGTERM", stop)
// The bench holds our stdin open: when it goes away, so do we.
process.stdin.on("end", stop)
process.stdin.resume()
