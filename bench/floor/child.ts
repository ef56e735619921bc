// Every floor server is a child of the bench: it says where it listens, and exits when the bench goes away.
export const announce = (name: string, url: string) => process.stdout.write(`${name} listening on ${url}\n`)

// The bench holds our stdin open: when it closes, the bench is gone.
export const exitWithParent = () => {
  process.stdin.on("end", () => process.exit(0))
  process.stdin.resume()
}
