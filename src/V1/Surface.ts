import { Either } from "effect"
import type { Translator } from "../Proxy/Relay.ts"
import { makeChatCollector } from "./ChatCompletion.ts"
import { translateChatRequest } from "./ChatRequest.ts"
import { makeChatStream } from "./ChatStream.ts"
import type { TranslateOptions, V1Translation } from "./CodexBody.ts"
import type { V1BadRequest, V1ErrorAnswer } from "./Errors.ts"
import { translateResponsesRequest } from "./ResponsesRequest.ts"
import { makeResponsesCollector, makeResponsesStream } from "./ResponsesStream.ts"
import { parseUpstreamEvent, type UpstreamEvent } from "./UpstreamEvent.ts"

// A request made into upstream's, with what the answer's translation needs.
export interface SurfaceRequest extends V1Translation {
  readonly includeUsage: boolean
}

// A non-streaming answer: the collected object, or the error the stream came to.
export type Collected = { readonly status: 200; readonly body: unknown } | V1ErrorAnswer

export interface Collector extends Translator {
  readonly outcome: () => Collected
}

// One of /v1's translated routes: the request into the Codex backend's Responses body; the answer, streamed as the
// public format's events or collected into its object.
export interface Surface {
  readonly route: "v1_responses" | "v1_chat_completions"
  readonly translate: (json: unknown, options: TranslateOptions) => Either.Either<SurfaceRequest, V1BadRequest>
  readonly streamer: (request: SurfaceRequest, requestId: string) => Translator
  readonly collector: (request: SurfaceRequest, requestId: string) => Collector
}

const encoder = new TextEncoder()

// Events are taken one by one as the relay's tap parses them; what they become is written out in one piece per
// upstream read.
const translating = <A>(push: (event: UpstreamEvent) => ReadonlyArray<A>, encode: (item: A) => string) => {
  let out = ""
  return {
    event: (data: string) => {
      const event = parseUpstreamEvent(data)
      if (event === null) return
      for (const item of push(event)) out += encode(item)
    },
    take: () => {
      if (out === "") return null
      const bytes = encoder.encode(out)
      out = ""
      return bytes
    },
    append: (text: string) => void (out += text)
  }
}

const collecting = (push: (event: UpstreamEvent) => void, outcome: () => Collected): Collector => ({
  event: (data) => {
    const event = parseUpstreamEvent(data)
    if (event !== null) push(event)
  },
  take: () => null,
  end: () => null,
  outcome
})

const sseEvent = (event: { readonly type: string }) => `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`
const sseData = (data: unknown) => `data: ${JSON.stringify(data)}\n\n`

export const responsesSurface: Surface = {
  route: "v1_responses",
  translate: (json, options) =>
    Either.map(translateResponsesRequest(json, options), (request) => ({ ...request, includeUsage: false })),
  streamer: () => {
    const stream = makeResponsesStream()
    const out = translating(stream.push, sseEvent)
    return {
      event: out.event,
      take: out.take,
      end: () => {
        for (const event of stream.end()) out.append(sseEvent(event))
        return out.take()
      }
    }
  },
  collector: () => {
    const collector = makeResponsesCollector()
    return collecting(collector.push, () => {
      const outcome = collector.end()
      return outcome._tag === "Answered" ? { status: 200, body: outcome.response } : outcome.answer
    })
  }
}

const chatOptions = (request: SurfaceRequest, requestId: string) => ({
  id: `chatcmpl-${requestId}`,
  model: request.model,
  created: Math.floor(Date.now() / 1000)
})

export const chatSurface: Surface = {
  route: "v1_chat_completions",
  translate: translateChatRequest,
  streamer: (request, requestId) => {
    const stream = makeChatStream({ ...chatOptions(request, requestId), includeUsage: request.includeUsage })
    const out = translating(stream.push, sseData)
    return {
      event: out.event,
      take: out.take,
      // A whole answer ends with [DONE]; a cut one with its error object only, so no client takes it for whole.
      end: () => {
        for (const data of stream.end()) out.append(sseData(data))
        if (stream.status() === "completed") out.append("data: [DONE]\n\n")
        return out.take()
      }
    }
  },
  collector: (request, requestId) => {
    const collector = makeChatCollector(chatOptions(request, requestId))
    return collecting(collector.push, () => {
      const outcome = collector.end()
      return outcome._tag === "Answered" ? { status: 200, body: outcome.completion } : outcome.answer
    })
  }
}
