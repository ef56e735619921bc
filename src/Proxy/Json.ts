// Upstream error bodies are read as JSON when they are JSON; anything else counts as no body.
export const parseJson = (body: Uint8Array): unknown => {
  try {
    return JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString("utf8"))
  } catch {
    return null
  }
}
