import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { parseArgs } from "node:util"
import { startFakeUpstream } from "./FakeUpstream.ts"

const { values } = parseArgs({
  options: {
    accounts: { type: "string", default: "2" },
    port: { type: "string", default: "0" },
    answer: { type: "string" }
  }
})

const count = Number.parseInt(values.accounts, 10)
const port = Number.parseInt(values.port, 10)
if (!Number.isInteger(count) || count < 0 || !Number.isInteger(port) || port < 0) {
  process.stderr.write("usage: fake-upstream [--accounts N] [--port P] [--answer TEXT]\n")
  process.exit(2)
}

const fake = await startFakeUpstream({
  accounts: Array.from({ length: count }, () => ({})),
  port,
  ...(values.answer === undefined ? {} : { answer: values.answer })
})

const dir = await mkdtemp(join(tmpdir(), "codex-fake-upstream-"))
const lines = [
  `fake upstream listening on ${fake.origin}`,
  `  codex base_url: ${fake.url}`,
  `  refresh:        ${fake.authUrl}/oauth/token  (CODEX_REFRESH_TOKEN_URL_OVERRIDE)`,
  `  admin:          ${fake.origin}/__fake/state, POST ${fake.origin}/__fake/faults`
]
for (const account of fake.accounts()) {
  const home = join(dir, account.accountId)
  await mkdir(home, { recursive: true })
  const file = join(home, "auth.json")
  await writeFile(file, `${JSON.stringify(fake.authJson(account.accountId), null, 2)}\n`, { mode: 0o600 })
  lines.push(`  account ${account.accountId} (${account.email}, ${account.plan}): ${file}`)
}
process.stdout.write(`${lines.join("\n")}\n`)

const stop = () => {
  Promise.all([fake.close(), rm(dir, { recursive: true, force: true })]).then(
    () => process.exit(0),
    () => process.exit(1)
  )
}
process.once("SIGINT", stop)
process.once("SIGTERM", stop)
