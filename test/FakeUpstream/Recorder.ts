import type { CodeExchange, FaultKind, RecordedKind, RecordedRequest, RefreshCall } from "./Types.ts"

export interface MutableRecord {
  seq: number
  at: number
  kind: RecordedKind
  method: string
  path: string
  query: Record<string, string>
  headers: Record<string, string>
  body?: unknown
  rawBody?: string
  connection?: number
  accountId?: string
  status?: number
  fault?: FaultKind
  responseId?: string
  resolvedInput?: ReadonlyArray<unknown>
  sentBody?: string
}

export type RecordInit = Omit<MutableRecord, "seq" | "at">

export class Recorder {
  readonly requests: Array<RecordedRequest> = []
  readonly refreshCalls: Array<RefreshCall> = []
  readonly codeExchanges: Array<CodeExchange> = []
  aborts = 0
  #seq = 0

  record(init: RecordInit): MutableRecord {
    const entry: MutableRecord = { seq: ++this.#seq, at: Date.now(), ...init }
    this.requests.push(entry)
    return entry
  }

  refresh(call: RefreshCall): void {
    this.refreshCalls.push(call)
  }

  exchange(call: CodeExchange): void {
    this.codeExchanges.push(call)
  }

  abort(): void {
    this.aborts += 1
  }

  reset(): void {
    this.requests.length = 0
    this.refreshCalls.length = 0
    this.codeExchanges.length = 0
    this.aborts = 0
  }
}
