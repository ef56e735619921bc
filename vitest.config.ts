import { availableParallelism } from "node:os"
import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    // vitest leaves a core idle by default (one worker on two cores); files here spend much of their time waiting on
    // child processes, sockets and PostgreSQL, and share nothing (ephemeral ports, a database and data dir each).
    maxWorkers: Math.max(2, availableParallelism())
  }
})
