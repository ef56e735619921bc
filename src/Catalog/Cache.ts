export interface Cached {
  readonly body: Uint8Array
  readonly headers: Readonly<Record<string, string>>
  readonly until: number
}

// Least recently used first: a Map keeps insertion order, and a read moves its entry to the end. Bounded both in
// entries and in bytes; an expired entry is dropped when it is next read, or when newer ones push it out.
export const makeCatalogCache = (bounds: { readonly maxEntries: number; readonly maxBytes: number }) => {
  const entries = new Map<string, Cached>()
  let bytes = 0

  const drop = (key: string) => {
    const entry = entries.get(key)
    if (entry === undefined) return
    entries.delete(key)
    bytes -= entry.body.byteLength
  }

  const put = (key: string, entry: Cached) => {
    drop(key)
    if (entry.body.byteLength > bounds.maxBytes) return
    entries.set(key, entry)
    bytes += entry.body.byteLength
    for (const oldest of entries.keys()) {
      if (entries.size <= bounds.maxEntries && bytes <= bounds.maxBytes) break
      drop(oldest)
    }
  }

  const get = (key: string, now: number): Cached | undefined => {
    const entry = entries.get(key)
    if (entry === undefined) return undefined
    drop(key)
    if (entry.until <= now) return undefined
    put(key, entry)
    return entry
  }

  return { get, put, size: () => entries.size } as const
}
