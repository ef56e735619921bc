// Upstream error bodies are small; past this many bytes they are not read for an error code.
export const errorBodyLimit = 64 * 1024

// Upstream error bodies are read as JSON when they are JSON; anything else counts as no body.
export const parseJson = (body: Uint8Array): unknown => {
  try {
    return JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString("utf8"))
  } catch {
    return null
  }
}
