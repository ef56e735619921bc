import * as fs from "node:fs"
import { describe, expect, it } from "vitest"
import { codexConfig } from "../scripts/CodexConfig.ts"
import { repoRoot } from "./support/Cli.ts"

describe("README", () => {
  it("shows exactly the Codex config blocks the demo prints and the end-to-end tests use", () => {
    const readme = fs.readFileSync(`${repoRoot}/README.md`, "utf8")
    const toml = /```toml\n([\s\S]*?)```/.exec(readme)?.[1]
    expect(toml).toEqual(codexConfig("http://127.0.0.1:4000"))
  })
})
