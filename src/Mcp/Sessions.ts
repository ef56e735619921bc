import type { Principal } from "./Session.ts"

export interface Closable {
  readonly close: () => Promise<void>
}

export interface OpenSession<T extends Closable> {
  readonly transport: T
  readonly principal: Principal
  lastSeen: number
}

export interface SessionLimits {
  readonly perToken: number
  readonly total: number
}

// The open MCP sessions, bounded per operator token and in all: a new session past a bound pushes out the one seen
// least recently (its token's, or anyone's), handed to `evicted` to close. A Map keeps insertion order, and a
// session is moved to its end whenever it is seen, so its first entries are always the least recently seen.
export const makeSessions = <T extends Closable>(limits: SessionLimits, evicted: (session: OpenSession<T>) => void) => {
  const sessions = new Map<string, OpenSession<T>>()

  const evict = (id: string, session: OpenSession<T>) => {
    sessions.delete(id)
    evicted(session)
  }

  const oldest = (tokenId?: string) => {
    for (const entry of sessions) if (tokenId === undefined || entry[1].principal.tokenId === tokenId) return entry
    return undefined
  }

  const countOf = (tokenId: string) => {
    let count = 0
    for (const session of sessions.values()) if (session.principal.tokenId === tokenId) count++
    return count
  }

  const add = (id: string, session: OpenSession<T>) => {
    sessions.set(id, session)
    const tokenId = session.principal.tokenId
    for (let count = countOf(tokenId); count > limits.perToken; count--) {
      const entry = oldest(tokenId)
      if (entry !== undefined) evict(...entry)
    }
    while (sessions.size > limits.total) {
      const entry = oldest()
      if (entry !== undefined) evict(...entry)
    }
  }

  const seen = (id: string, now: number) => {
    const session = sessions.get(id)
    if (session === undefined) return undefined
    session.lastSeen = now
    sessions.delete(id)
    sessions.set(id, session)
    return session
  }

  // Sessions not seen since `before`, taken out to be closed.
  const takeIdle = (before: number) => {
    const idle: Array<OpenSession<T>> = []
    for (const [id, session] of sessions) {
      if (session.lastSeen >= before) continue
      sessions.delete(id)
      idle.push(session)
    }
    return idle
  }

  const takeAll = () => {
    const all = [...sessions.values()]
    sessions.clear()
    return all
  }

  return {
    add,
    seen,
    takeIdle,
    takeAll,
    get: (id: string) => sessions.get(id),
    remove: (id: string) => void sessions.delete(id),
    get size() {
      return sessions.size
    }
  } as const
}
