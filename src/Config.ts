import { Config, ConfigError, Either, LogLevel, Option, Redacted } from "effect"

const nonEmpty = (name: string) =>
  Config.string(name).pipe(
    Config.option,
    Config.map(Option.filter((value) => value.trim() !== ""))
  )

const httpUrl = (name: string, fallback: string) =>
  nonEmpty(name).pipe(
    Config.mapOrFail((value) => {
      const raw = Option.getOrElse(value, () => fallback)
      const parsed = URL.canParse(raw) ? new URL(raw) : undefined
      return parsed !== undefined && (parsed.protocol === "http:" || parsed.protocol === "https:")
        ? Either.right(raw.replace(/\/+$/, ""))
        : Either.left(ConfigError.InvalidData([name], `must be an http(s) URL, got "${raw}"`))
    })
  )

export const Port = nonEmpty("PORT").pipe(
  Config.mapOrFail((value) => {
    const raw = Option.getOrElse(value, () => "4000")
    const port = Number(raw)
    return /^\d+$/.test(raw) && port >= 0 && port <= 65535
      ? Either.right(port)
      : Either.left(ConfigError.InvalidData(["PORT"], `must be a TCP port number 0-65535, got "${raw}"`))
  })
)

export const Host = nonEmpty("HOST").pipe(Config.map(Option.getOrElse(() => "127.0.0.1")))

export const DataDir = nonEmpty("CODEX_POOLER_DATA_DIR").pipe(Config.map(Option.getOrElse(() => "./.codex-pooler")))

export const DatabaseUrl = nonEmpty("DATABASE_URL").pipe(
  Config.mapOrFail((value) =>
    Option.match(value, {
      onNone: () => Either.right(Option.none<Redacted.Redacted>()),
      onSome: (raw) =>
        /^postgres(ql)?:\/\//.test(raw)
          ? Either.right(Option.some(Redacted.make(raw)))
          : Either.left(ConfigError.InvalidData(["DATABASE_URL"], "must be a postgres:// or postgresql:// URL"))
    })
  )
)

export const SecretKey = nonEmpty("CODEX_POOLER_SECRET_KEY").pipe(
  Config.mapOrFail((value) =>
    Option.match(value, {
      onNone: () => Either.right(Option.none<Redacted.Redacted<Buffer>>()),
      onSome: (raw) => {
        const key = Buffer.from(raw, "base64")
        return key.length === 32 && /^[A-Za-z0-9+/]+={0,2}$/.test(raw)
          ? Either.right(Option.some(Redacted.make(key)))
          : Either.left(
            ConfigError.InvalidData(
              ["CODEX_POOLER_SECRET_KEY"],
              "must be 32 bytes encoded as base64 (openssl rand -base64 32)"
            )
          )
      }
    })
  )
)

export const UpstreamUrl = httpUrl("CODEX_POOLER_UPSTREAM_URL", "https://chatgpt.com/backend-api/codex")

export const AuthUrl = httpUrl("CODEX_POOLER_AUTH_URL", "https://auth.openai.com")

const websocketSchemes: Readonly<Record<string, string>> = {
  "ws:": "ws:",
  "wss:": "wss:",
  "http:": "ws:",
  "https:": "wss:"
}

// Upstream's realtime websocket, where a voice call's sideband is joined: ws(s), or http(s) taken as ws(s) as Codex
// takes it.
export const RealtimeUrl = nonEmpty("CODEX_POOLER_REALTIME_URL").pipe(
  Config.mapOrFail((value) => {
    const raw = Option.getOrElse(value, () => "wss://api.openai.com/v1/realtime")
    const parsed = URL.canParse(raw) ? new URL(raw) : undefined
    const scheme = parsed === undefined ? undefined : websocketSchemes[parsed.protocol]
    if (parsed === undefined || scheme === undefined) {
      return Either.left(
        ConfigError.InvalidData(["CODEX_POOLER_REALTIME_URL"], `must be a ws(s) or http(s) URL, got "${raw}"`)
      )
    }
    parsed.protocol = scheme
    return Either.right(parsed.toString())
  })
)

export const Level = nonEmpty("LOG_LEVEL").pipe(
  Config.mapOrFail((value) => {
    const raw = Option.getOrElse(value, () => "info")
    const level = LogLevel.allLevels.find((level) => level.label.toLowerCase() === raw.toLowerCase())
    return level !== undefined
      ? Either.right(level)
      : Either.left(
        ConfigError.InvalidData(
          ["LOG_LEVEL"],
          `must be one of ${LogLevel.allLevels.map((l) => l.label.toLowerCase()).join(", ")}, got "${raw}"`
        )
      )
  })
)

export const LogFormats = ["pretty", "logfmt", "json"] as const
export type LogFormat = typeof LogFormats[number]

// A person at a terminal reads pretty lines; a pipe, journald or a log collector gets logfmt unless told json.
export const Format = nonEmpty("LOG_FORMAT").pipe(
  Config.mapOrFail((value) => {
    const raw = Option.getOrElse(value, () => process.stderr.isTTY ? "pretty" : "logfmt")
    const format = LogFormats.find((format) => format === raw.toLowerCase())
    return format !== undefined
      ? Either.right(format)
      : Either.left(ConfigError.InvalidData(["LOG_FORMAT"], `must be one of ${LogFormats.join(", ")}, got "${raw}"`))
  })
)

const count = (name: string, fallback: number, minimum: number, unit: string) =>
  nonEmpty(name).pipe(
    Config.mapOrFail((value) => {
      const raw = Option.getOrElse(value, () => String(fallback))
      const parsed = Number(raw)
      return /^\d+$/.test(raw) && parsed >= minimum
        ? Either.right(parsed)
        : Either.left(
          ConfigError.InvalidData([name], `must be a whole number of ${unit}, at least ${minimum}, got "${raw}"`)
        )
    })
  )

export const MaxBodyBytes = count("CODEX_POOLER_MAX_BODY_BYTES", 50 * 1024 * 1024, 1024, "bytes")
export const RefreshSkewSeconds = count("CODEX_POOLER_REFRESH_SKEW_SECONDS", 300, 0, "seconds")
export const ShutdownGraceMs = count("CODEX_POOLER_SHUTDOWN_GRACE_MS", 25_000, 0, "milliseconds")
export const FailoverBudgetMs = count("CODEX_POOLER_FAILOVER_BUDGET_MS", 15_000, 0, "milliseconds")
export const CircuitOpenMs = count("CODEX_POOLER_CIRCUIT_OPEN_MS", 30_000, 100, "milliseconds")
export const WsIdleTimeoutMs = count("CODEX_POOLER_WS_IDLE_TIMEOUT_MS", 30 * 60 * 1000, 100, "milliseconds")
// How often each account's usage is asked of upstream when nothing else has told us (0: never). Accounts resting at
// their usage limit are asked every minute at most, so an early reset puts them back to work.
export const UsagePollSeconds = count("CODEX_POOLER_USAGE_POLL_SECONDS", 300, 0, "seconds")
// Open operator MCP sessions per operator token, and in all; past either, the least recently seen one is closed.
export const McpSessionsPerToken = count("CODEX_POOLER_MCP_SESSIONS_PER_TOKEN", 16, 1, "sessions")
export const McpSessionsMax = count("CODEX_POOLER_MCP_SESSIONS_MAX", 256, 1, "sessions")

// Client websockets one Pool key may hold open on one instance (a key's max-concurrent limit bounds them too).
export const MaxWebsocketsPerKey = count("CODEX_POOLER_MAX_WEBSOCKETS_PER_KEY", 64, 1, "sockets")

// Request and attempt rows waiting for the next group commit; past it a request waits for room before it goes on.
export const WriteQueueRows = count("CODEX_POOLER_WRITE_QUEUE_ROWS", 4096, 1, "rows")

// How often each instance reloads its routing view whatever it heard: what change notices cannot carry (another
// process on the embedded database, a lost notice connection, quota and last-used times) is at most this old.
export const RoutingReloadMs = count("CODEX_POOLER_ROUTING_RELOAD_MS", 2000, 100, "milliseconds")

// Session bindings (turn and thread to account) each instance keeps in memory; past it the least recently used go.
export const SessionCacheEntries = count("CODEX_POOLER_SESSION_CACHE_ENTRIES", 100_000, 0, "entries")

export const PreviousSecretKeys = nonEmpty("CODEX_POOLER_PREVIOUS_SECRET_KEYS").pipe(
  Config.mapOrFail((value) => {
    const keys = Option.getOrElse(value, () => "").split(",").map((key) => key.trim()).filter((key) => key !== "")
    const decoded = keys.map((key) => Buffer.from(key, "base64"))
    return decoded.every((key) => key.length === 32)
      ? Either.right(decoded.map((key) => Redacted.make(key)))
      : Either.left(
        ConfigError.InvalidData(
          ["CODEX_POOLER_PREVIOUS_SECRET_KEYS"],
          "must be comma-separated 32-byte keys encoded as base64"
        )
      )
  })
)

// The dashboard cookie's Secure flag. Off by default, as the default listener is plain http on loopback; turn it on
// behind TLS. Never inferred from a request header, which any client can send.
export const CookieSecure = nonEmpty("CODEX_POOLER_COOKIE_SECURE").pipe(
  Config.mapOrFail((value) => {
    const raw = Option.getOrElse(value, () => "false").toLowerCase()
    return raw === "true" || raw === "false"
      ? Either.right(raw === "true")
      : Either.left(ConfigError.InvalidData(["CODEX_POOLER_COOKIE_SECURE"], `must be true or false, got "${raw}"`))
  })
)

export const describeConfigError = (error: ConfigError.ConfigError): string =>
  ConfigError.reduceWithContext(error, undefined, {
    andCase: (_, left, right) => `${left}; ${right}`,
    orCase: (_, left) => left,
    invalidDataCase: (_, path, message) => `${path.join(".")} ${message}`,
    missingDataCase: (_, path) => `${path.join(".")} is required`,
    sourceUnavailableCase: (_, path, message) => `${path.join(".")} could not be read: ${message}`,
    unsupportedCase: (_, path, message) => `${path.join(".")} ${message}`
  })

// Read once at start so a bad value stops the process before anything is opened, naming every offending variable.
export const AllSettings = Config.all({
  port: Port,
  host: Host,
  dataDir: DataDir,
  databaseUrl: DatabaseUrl,
  secretKey: SecretKey,
  upstreamUrl: UpstreamUrl,
  authUrl: AuthUrl,
  realtimeUrl: RealtimeUrl,
  logLevel: Level,
  logFormat: Format,
  maxBodyBytes: MaxBodyBytes,
  refreshSkewSeconds: RefreshSkewSeconds,
  shutdownGraceMs: ShutdownGraceMs,
  wsIdleTimeoutMs: WsIdleTimeoutMs,
  circuitOpenMs: CircuitOpenMs,
  failoverBudgetMs: FailoverBudgetMs,
  usagePollSeconds: UsagePollSeconds,
  previousSecretKeys: PreviousSecretKeys,
  maxWebsocketsPerKey: MaxWebsocketsPerKey,
  writeQueueRows: WriteQueueRows,
  routingReloadMs: RoutingReloadMs,
  sessionCacheEntries: SessionCacheEntries,
  mcpSessionsPerToken: McpSessionsPerToken,
  mcpSessionsMax: McpSessionsMax,
  cookieSecure: CookieSecure
}).pipe(
  Config.mapOrFail((settings) =>
    Option.isSome(settings.databaseUrl) && Option.isNone(settings.secretKey)
      ? Either.left(
        ConfigError.InvalidData(["CODEX_POOLER_SECRET_KEY"], "is required when DATABASE_URL is set (32 bytes, base64)")
      )
      : Either.right(settings)
  )
)
