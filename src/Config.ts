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
            ConfigError.InvalidData(["CODEX_POOLER_SECRET_KEY"], "must be 32 bytes encoded as base64 (openssl rand -base64 32)")
          )
      }
    })
  )
)

export const UpstreamUrl = httpUrl("CODEX_POOLER_UPSTREAM_URL", "https://chatgpt.com/backend-api/codex")

export const AuthUrl = httpUrl("CODEX_POOLER_AUTH_URL", "https://auth.openai.com")

export const Level = nonEmpty("LOG_LEVEL").pipe(
  Config.mapOrFail((value) => {
    const raw = Option.getOrElse(value, () => "info")
    const level = LogLevel.allLevels.find((level) => level.label.toLowerCase() === raw.toLowerCase())
    return level !== undefined
      ? Either.right(level)
      : Either.left(
        ConfigError.InvalidData(["LOG_LEVEL"], `must be one of ${LogLevel.allLevels.map((l) => l.label.toLowerCase()).join(", ")}, got "${raw}"`)
      )
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
  logLevel: Level
}).pipe(
  Config.mapOrFail((settings) =>
    Option.isSome(settings.databaseUrl) && Option.isNone(settings.secretKey)
      ? Either.left(
        ConfigError.InvalidData(["CODEX_POOLER_SECRET_KEY"], "is required when DATABASE_URL is set (32 bytes, base64)")
      )
      : Either.right(settings)
  )
)
