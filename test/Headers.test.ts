import { Headers } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { forwardRequestHeaders } from "../src/Proxy/Headers.ts"

describe("request headers forwarded upstream", () => {
  it("passes the names Codex sends and drops invented or account-owned x-openai-*, x-codex-*, x-oai-* names", () => {
    const sent = {
      accept: "text/event-stream",
      "content-type": "application/json",
      originator: "codex_exec",
      "session-id": "t",
      "x-codex-turn-metadata": "{}",
      "x-codex-window-id": "t:0",
      "x-codex-beta-features": "remote_compaction_v2",
      "x-openai-subagent": "review",
      "x-responsesapi-include-timing-metrics": "true",
      "x-openai-internal-codex-residency": "us",
      "x-openai-internal-anything": "1",
      "x-openai-fedramp": "true",
      "x-openai-account-routing-override": "us",
      "x-openai-invented": "1",
      "x-codex-invented": "1",
      "x-oai-invented": "1",
      "x-responsesapi-invented": "1",
      authorization: "Bearer cpk_x",
      cookie: "a=b"
    }
    expect(Object.keys(forwardRequestHeaders(Headers.fromInput(sent))).sort()).toEqual([
      "accept",
      "content-type",
      "originator",
      "session-id",
      "x-codex-beta-features",
      "x-codex-turn-metadata",
      "x-codex-window-id",
      "x-openai-subagent",
      "x-responsesapi-include-timing-metrics"
    ])
  })
})
