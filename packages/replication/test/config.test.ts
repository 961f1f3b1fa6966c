/**
 * `FastOrm.config` / `FastOrmLive` through `ConfigProvider.fromMap`: every option of `FastOrm.layer` has a variable,
 * every problem comes in one `ConfigError` naming its variable, and no rendering of it shows a password.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { inspect } from "node:util"
import { ConnectionRouter, FastOrm, FastOrmLive } from "../src/index.js"
import { variableNames } from "../src/internal/configReader.js"
import { type Kind, parse } from "../src/internal/configSections.js"

const PG = "postgresql://app:pw@db-primary:5432/app"

const providerOf = (vars: Record<string, string>) => ConfigProvider.fromMap(new Map(Object.entries(vars)))

const read = (vars: Record<string, string>) =>
  Effect.runSync(Effect.either(Effect.withConfigProvider(FastOrm.config, providerOf(vars))))

/** Every leaf of a ConfigError as "PATH: message" ("missing PATH: message" for missing data), in order. */
const problems = (error: ConfigError.ConfigError): ReadonlyArray<string> =>
  ConfigError.reduceWithContext(error, undefined, {
    andCase: (_, left, right) => [...left, ...right],
    orCase: (_, left, right) => [...left, ...right],
    invalidDataCase: (_, path, message) => [`${path.join(".")}: ${message}`],
    missingDataCase: (_, path, message) => [`missing ${path.join(".")}: ${message}`],
    sourceUnavailableCase: (_, path, message) => [`unavailable ${path.join(".")}: ${message}`],
    unsupportedCase: (_, path, message) => [`unsupported ${path.join(".")}: ${message}`]
  })

const problemsOf = (vars: Record<string, string>) =>
  Either.match(read(vars), { onLeft: problems, onRight: () => [] as ReadonlyArray<string> })

const configOf = (vars: Record<string, string>): FastOrm.FastOrmConfig =>
  Either.getOrThrowWith(read(vars), (e) => new Error(String(e)))

const millis = (d: unknown) => Duration.toMillis(d as Duration.Duration)

describe("FastOrm.config", () => {
  it("only FASTORM_WRITE_URL set: the primary as a secret, every other option left to the layer's defaults", () => {
    const config = configOf({ FASTORM_WRITE_URL: `  ${PG} ` })
    expect(Object.keys(config)).toEqual(["write"])
    expect(Redacted.isRedacted(config.write)).toBe(true)
    expect(Redacted.value(config.write as Redacted.Redacted<string>)).toBe(PG)
  })

  it("empty variables count as unset", () => {
    const config = configOf({ FASTORM_WRITE_URL: PG, FASTORM_READ_URLS: " ", FASTORM_NAME: "", FASTORM_POOL_SIZE: "" })
    expect(Object.keys(config)).toEqual(["write"])
  })

  it("the nodes: name, the primary's name, replicas comma-separated with their names and weights", () => {
    const config = configOf({
      FASTORM_NAME: "users",
      FASTORM_WRITE_URL: PG,
      FASTORM_WRITE_NAME: "main",
      FASTORM_READ_URLS: "postgresql://app:pw@r1/app, postgresql://app:pw@r2/app,",
      FASTORM_READ_NAMES: "east,west",
      FASTORM_READ_WEIGHTS: "1, 0.5"
    })
    expect(config.name).toBe("users")
    const write = config.write as FastOrm.NodeConfig
    expect([write.name, Redacted.value(write.url as Redacted.Redacted<string>)]).toEqual(["main", PG])
    const replicas = config.read as ReadonlyArray<FastOrm.NodeConfig>
    expect(replicas.map((r) => [Redacted.value(r.url as Redacted.Redacted<string>), r.name, r.weight])).toEqual([
      ["postgresql://app:pw@r1/app", "east", 1],
      ["postgresql://app:pw@r2/app", "west", 0.5]
    ])
    const plain = configOf({ FASTORM_WRITE_URL: PG, FASTORM_READ_URLS: "postgresql://app:pw@r1/app" })
    expect((plain.read as ReadonlyArray<unknown>).every(Redacted.isRedacted)).toBe(true)
  })

  // Every option of FastOrm.layer but the nodes: the variable, a text, and the value the layer receives.
  const options: ReadonlyArray<
    readonly [variable: string, text: string, section: string, key: string, value: unknown]
  > = [
    ["FASTORM_READ_WRITE_ENABLE_READ_WRITE_SPLIT", "off", "readWrite", "enableReadWriteSplit", false],
    ["FASTORM_READ_WRITE_READ_PREFERENCE", "replicaOnly", "readWrite", "readPreference", "replicaOnly"],
    ["FASTORM_READ_WRITE_CONSISTENCY", "eventual", "readWrite", "consistency", "eventual"],
    ["FASTORM_READ_WRITE_STRATEGY", "leastLatency", "readWrite", "strategy", "leastLatency"],
    ["FASTORM_READ_WRITE_MAX_REPLICATION_LAG", "3 seconds", "readWrite", "maxReplicationLag", 3000],
    ["FASTORM_READ_WRITE_SESSION_WAIT_TIMEOUT", "250", "readWrite", "sessionWaitTimeout", 250],
    ["FASTORM_READ_WRITE_PRIMARY_WAIT_TIMEOUT", "15 seconds", "readWrite", "primaryWaitTimeout", 15_000],
    ["FASTORM_READ_WRITE_STATEMENT_TIMEOUT", "1 minute", "readWrite", "statementTimeout", 60_000],
    ["FASTORM_READ_WRITE_CONNECT_TIMEOUT", "2500 millis", "readWrite", "connectTimeout", 2500],
    ["FASTORM_READ_WRITE_MAX_FALLBACK_CONCURRENCY", "4", "readWrite", "maxFallbackConcurrency", 4],
    ["FASTORM_READ_WRITE_DEGRADED_WEIGHT", "0.5", "readWrite", "degradedWeight", 0.5],
    ["FASTORM_READ_WRITE_START_DEGRADED", "true", "readWrite", "startDegraded", true],
    ["FASTORM_HEALTH_INTERVAL", "500 millis", "health", "interval", 500],
    ["FASTORM_HEALTH_TIMEOUT", "4 seconds", "health", "timeout", 4000],
    ["FASTORM_HEALTH_DEGRADED_AFTER", "800 millis", "health", "degradedAfter", 800],
    ["FASTORM_HEALTH_UNHEALTHY_AFTER", "4 seconds", "health", "unhealthyAfter", 4000],
    ["FASTORM_HEALTH_FAILURE_THRESHOLD", "5", "health", "failureThreshold", 5],
    ["FASTORM_HEALTH_RECOVERY_THRESHOLD", "1", "health", "recoveryThreshold", 1],
    ["FASTORM_HEALTH_BACKOFF_BASE", "1 second", "health", "backoffBase", 1000],
    ["FASTORM_HEALTH_BACKOFF_CAP", "1 minute", "health", "backoffCap", 60_000],
    ["FASTORM_HEALTH_AUTH_BACKOFF_BASE", "20 seconds", "health", "authBackoffBase", 20_000],
    ["FASTORM_HEALTH_AUTH_BACKOFF_CAP", "10 minutes", "health", "authBackoffCap", 600_000],
    ["FASTORM_HEALTH_SMOOTHING", "0.5", "health", "smoothing", 0.5],
    ["FASTORM_HEALTH_MAX_LAG", "5 seconds", "health", "maxLag", 5000],
    ["FASTORM_HEALTH_APPLICATION_NAME", "billing-health", "health", "applicationName", "billing-health"],
    ["FASTORM_POOL_SIZE", "4", "pool", "poolSize", 4],
    ["FASTORM_POOL_MAX_OVERFLOW", "0", "pool", "maxOverflow", 0],
    ["FASTORM_POOL_IDLE_TIMEOUT", "1 minute", "pool", "idleTimeout", 60_000],
    ["FASTORM_POOL_MAX_LIFETIME", "10 minutes", "pool", "maxLifetime", 600_000],
    ["FASTORM_POOL_CONNECT_TIMEOUT", "3 seconds", "pool", "connectTimeout", 3000],
    ["FASTORM_POOL_STATEMENT_TIMEOUT", "20 seconds", "pool", "statementTimeout", 20_000],
    ["FASTORM_POOL_LOCK_TIMEOUT", "2 seconds", "pool", "lockTimeout", 2000],
    ["FASTORM_POOL_IDLE_IN_TRANSACTION_TIMEOUT", "30 seconds", "pool", "idleInTransactionTimeout", 30_000],
    ["FASTORM_POOL_JIT", "on", "pool", "jit", true],
    ["FASTORM_POOL_APPLICATION_NAME", "billing", "pool", "applicationName", "billing"],
    ["FASTORM_POOL_SEARCH_PATH", "billing, public", "pool", "searchPath", "billing, public"],
    ["FASTORM_POOL_KEEP_ALIVE", "no", "pool", "keepAlive", false],
    ["FASTORM_POOL_KEEP_ALIVE_INITIAL_DELAY", "1 minute", "pool", "keepAliveInitialDelay", 60_000],
    ["FASTORM_POOL_PREPARED_STATEMENTS", "false", "pool", "preparedStatements", false],
    ["FASTORM_POOL_PIPELINED_CONNECTIONS", "4", "pool", "pipelinedConnections", 4],
    [
      "FASTORM_POOL_SERVER_SETTINGS",
      "work_mem=64MB; default_transaction_isolation = repeatable read;",
      "pool",
      "serverSettings",
      {
        work_mem: "64MB",
        default_transaction_isolation: "repeatable read"
      }
    ],
    ["FASTORM_POOL_READ_TIMEOUT", "45 seconds", "pool", "readTimeout", 45_000],
    ["FASTORM_POOL_WRITE_TIMEOUT", "45 seconds", "pool", "writeTimeout", 45_000],
    ["FASTORM_POOL_CHARSET", "utf8mb4", "pool", "charset", "utf8mb4"],
    ["FASTORM_POOL_COLLATION", "utf8mb4_bin", "pool", "collation", "utf8mb4_bin"],
    ["FASTORM_POOL_TIMEZONE", "+02:00", "pool", "timezone", "+02:00"],
    ["FASTORM_POOL_MAX_WRITERS", "1", "pool", "maxWriters", 1],
    ["FASTORM_POOL_JOURNAL_MODE", "delete", "pool", "journalMode", "delete"],
    ["FASTORM_POOL_SYNCHRONOUS", "full", "pool", "synchronous", "full"],
    ["FASTORM_POOL_CACHE_SIZE_KIB", "2048", "pool", "cacheSizeKiB", 2048],
    ["FASTORM_POOL_FOREIGN_KEYS", "0", "pool", "foreignKeys", false],
    ["FASTORM_POOL_BUSY_TIMEOUT", "10 seconds", "pool", "busyTimeout", 10_000],
    ["FASTORM_POOL_READER_THREADS", "4", "pool", "readerThreads", 4],
    ["FASTORM_POOL_OPEN_MODE", "rw", "pool", "openMode", "rw"]
  ]

  it("every option has a variable, read into the layer's option (durations in milliseconds here)", () => {
    expect(options.map(([variable]) => variable)).toEqual(variableNames.slice(11))
    // Pool settings are per dialect: each row runs with a URL of a dialect that has the setting.
    const urlFor = (key: string) =>
      [
          "maxWriters",
          "journalMode",
          "synchronous",
          "cacheSizeKiB",
          "foreignKeys",
          "busyTimeout",
          "readerThreads",
          "openMode"
        ]
          .includes(key)
        ? "sqlite:///app.db"
        : ["readTimeout", "writeTimeout", "charset", "collation", "timezone"].includes(key)
        ? "mysql://app:pw@db/app"
        : PG
    for (const [variable, text, section, key, value] of options) {
      const config = configOf({ FASTORM_WRITE_URL: urlFor(key), [variable]: text }) as any
      const got = config[section]?.[key]
      expect(Duration.isDuration(got) ? millis(got) : got, variable).toEqual(value)
      expect(Object.keys(config[section]), variable).toEqual([key])
    }
  })

  it("a missing FASTORM_WRITE_URL says which variable and shows an example", () => {
    expect(problemsOf({ FASTORM_READ_URLS: "postgresql://app:pw@r1/app" })).toEqual([
      "missing FASTORM_WRITE_URL: the primary's URL is required, e.g. postgresql://app:secret@db-primary:5432/app " +
      "(mysql://, mariadb:// and sqlite:///app.db work the same way); or every node's URL in FASTORM_NODES"
    ])
  })

  it("FASTORM_FAILOVER_*: FastORM's own failover, its admin URL a secret, required with promote", () => {
    const config = configOf({
      FASTORM_NODES: "postgresql://app:pw@db-1/app,postgresql://app:pw@db-2/app",
      FASTORM_FAILOVER_MODE: "promote",
      FASTORM_FAILOVER_ADMIN_URL: "postgresql://postgres:S3cr3t-canary@db-1/postgres",
      FASTORM_FAILOVER_AFTER: "5 seconds"
    })
    expect(config.failover?.mode).toBe("promote")
    expect(Redacted.isRedacted(config.failover?.adminUrl)).toBe(true)
    expect(millis(config.failover?.after)).toBe(5_000)
    expect(JSON.stringify(config)).not.toContain("S3cr3t-canary")
    expect(problemsOf({ FASTORM_NODES: "postgresql://app:pw@db-1/app", FASTORM_FAILOVER_MODE: "promote" })).toEqual([
      "missing FASTORM_FAILOVER_ADMIN_URL: FASTORM_FAILOVER_MODE=promote needs the URL whose credentials may promote " +
      "a replica, e.g. postgresql://postgres:secret@db/postgres"
    ])
    expect(problemsOf({ FASTORM_NODES: "postgresql://app:pw@db-1/app", FASTORM_FAILOVER_MODE: "always" })).toEqual([
      "FASTORM_FAILOVER_MODE: expected one of: promote, off"
    ])
  })

  it("FASTORM_NODES: nodes whose roles are learnt, named by FASTORM_NODE_NAMES; never with FASTORM_WRITE_URL", () => {
    const nodes = read({
      FASTORM_NODES: "postgresql://app:pw@db-1/app,postgresql://app:pw@db-2/app",
      FASTORM_NODE_NAMES: "one,two"
    })
    expect(nodes._tag).toBe("Right")
    if (nodes._tag === "Right") {
      expect(nodes.right.write).toBeUndefined()
      expect((nodes.right.nodes as ReadonlyArray<{ name: string }>).map((n) => n.name)).toEqual(["one", "two"])
    }
    expect(problemsOf({
      FASTORM_NODES: "postgresql://app:pw@db-1/app",
      FASTORM_WRITE_URL: "postgresql://app:pw@db-1/app"
    })).toEqual([
      "FASTORM_NODES: give either FASTORM_NODES (roles learnt from the servers) or FASTORM_WRITE_URL / " +
      "FASTORM_READ_URLS, not both"
    ])
    expect(problemsOf({ FASTORM_NODES: "postgresql://app:pw@db-1/app", FASTORM_NODE_NAMES: "a,b" })).toEqual([
      "FASTORM_NODE_NAMES: 2 entries for 1 URLs in FASTORM_NODES: give one per URL, in order"
    ])
  })

  it("every problem of every variable in one ConfigError, each at its variable, no value repeated", () => {
    expect(problemsOf({
      FASTORM_WRITE_URL: "postgres://app:pw@:99999/",
      FASTORM_READ_URLS: "postgresql://app:pw@r1/app,oracle://app:pw@r2/app",
      FASTORM_READ_WEIGHTS: "1,-2",
      FASTORM_READ_WRITE_CONSISTENCY: "linearizable",
      FASTORM_READ_WRITE_STRATEGY: "fastest",
      FASTORM_READ_WRITE_SESSION_WAIT_TIMEOUT: "soon",
      FASTORM_READ_WRITE_MAX_FALLBACK_CONCURRENCY: "0",
      FASTORM_READ_WRITE_DEGRADED_WEIGHT: "2",
      FASTORM_READ_WRITE_START_DEGRADED: "maybe",
      FASTORM_HEALTH_INTERVAL: "5s",
      FASTORM_HEALTH_FAILURE_THRESHOLD: "1.5",
      FASTORM_HEALTH_SMOOTHING: "lots",
      FASTORM_POOL_SIZE: "-1",
      FASTORM_POOL_CONNECT_TIMEOUT: "0",
      FASTORM_POOL_JOURNAL_MODE: "wall",
      FASTORM_POOL_SEARCH_PATH: "app; drop",
      FASTORM_POOL_SERVER_SETTINGS: "work_mem",
      FASTORM_POOL_TIMEZONE: "Europe/Paris"
    })).toEqual([
      "FASTORM_WRITE_URL: The connection URL names no host; The port in the connection URL is not between 1 and " +
      "65535; The connection URL names no database (add /<database> after the host)",
      "FASTORM_READ_URLS: the 2nd entry: Unsupported URL scheme \"oracle\": use postgresql://, mysql://, mariadb:// " +
      "or sqlite://",
      "FASTORM_READ_WEIGHTS: the 2nd entry: weight must be a finite number >= 0",
      "FASTORM_READ_WRITE_CONSISTENCY: expected one of: eventual, session, strong",
      "FASTORM_READ_WRITE_STRATEGY: expected one of: roundRobin, random, weighted, leastLatency, leastOutstanding",
      "FASTORM_READ_WRITE_SESSION_WAIT_TIMEOUT: expected a duration such as \"5 seconds\", \"500 millis\" or a number " +
      "of milliseconds",
      "FASTORM_READ_WRITE_MAX_FALLBACK_CONCURRENCY: maxFallbackConcurrency must be a positive integer",
      "FASTORM_READ_WRITE_DEGRADED_WEIGHT: degradedWeight must be in [0, 1]",
      "FASTORM_READ_WRITE_START_DEGRADED: expected true or false",
      "FASTORM_HEALTH_INTERVAL: expected a duration such as \"5 seconds\", \"500 millis\" or a number of milliseconds",
      "FASTORM_HEALTH_FAILURE_THRESHOLD: expected an integer such as 10",
      "FASTORM_HEALTH_SMOOTHING: expected a number such as 0.5",
      "FASTORM_POOL_SIZE: poolSize must be a non-negative integer",
      "FASTORM_POOL_CONNECT_TIMEOUT: connectTimeout must be longer than zero",
      "FASTORM_POOL_SEARCH_PATH: searchPath must be schema names separated by commas, e.g. \"app, public\"",
      "FASTORM_POOL_SERVER_SETTINGS: expected name=value pairs separated by semicolons, e.g. work_mem=64MB",
      "FASTORM_POOL_TIMEZONE: timezone must be \"local\", \"Z\" or an offset from \"-12:59\" to \"+13:00\"",
      "FASTORM_POOL_JOURNAL_MODE: expected one of: wal, delete, truncate, persist, memory, off"
    ])
  })

  it("a server setting FastORM sets itself is the server settings variable's problem, naming the setting to use", () => {
    expect(problemsOf({ FASTORM_WRITE_URL: PG, FASTORM_POOL_SERVER_SETTINGS: "work_mem=64MB; statement_timeout=5s" }))
      .toEqual(["FASTORM_POOL_SERVER_SETTINGS: serverSettings cannot set statement_timeout: use statementTimeout"])
  })

  it("problems between variables, once every variable is valid: each names its variables", () => {
    expect(problemsOf({
      FASTORM_WRITE_URL: PG,
      FASTORM_READ_URLS: "postgresql://app:pw@r1/app",
      FASTORM_READ_NAMES: "east,west",
      FASTORM_READ_WEIGHTS: "1,1,1",
      FASTORM_HEALTH_UNHEALTHY_AFTER: "500 millis",
      FASTORM_POOL_SIZE: "0",
      FASTORM_POOL_MAX_OVERFLOW: "0",
      FASTORM_POOL_BUSY_TIMEOUT: "1 second"
    })).toEqual([
      "FASTORM_READ_NAMES: 2 entries for 1 URLs in FASTORM_READ_URLS: give one per URL, in order",
      "FASTORM_READ_WEIGHTS: 3 entries for 1 URLs in FASTORM_READ_URLS: give one per URL, in order",
      "FASTORM_HEALTH_DEGRADED_AFTER: unhealthyAfter must not be below degradedAfter (with " +
      "FASTORM_HEALTH_UNHEALTHY_AFTER)",
      "FASTORM_POOL_BUSY_TIMEOUT: \"busyTimeout\" does not apply to PostgreSQL (it is a SQLite setting)",
      "FASTORM_POOL_SIZE: poolSize + maxOverflow must allow at least one connection (with FASTORM_POOL_MAX_OVERFLOW)"
    ])
  })

  it("kinds: what each accepts and what it says otherwise", () => {
    const rows: ReadonlyArray<readonly [Kind, string, unknown]> = [
      [{ _tag: "duration" }, "5 seconds", 5000],
      [{ _tag: "duration" }, "1.5 seconds", 1500],
      [{ _tag: "duration" }, "250", 250],
      [
        { _tag: "duration" },
        "5s",
        "expected a duration such as \"5 seconds\", \"500 millis\" or a number of milliseconds"
      ],
      [{ _tag: "integer" }, "-3", -3],
      [{ _tag: "integer" }, "3.0", "expected an integer such as 10"],
      [{ _tag: "integer" }, "99999999999999999999", "expected an integer such as 10"],
      [{ _tag: "number" }, "1e-1", 0.1],
      [{ _tag: "number" }, ".5", 0.5],
      [{ _tag: "number" }, "NaN", "expected a number such as 0.5"],
      [{ _tag: "boolean" }, "YES", true],
      [{ _tag: "boolean" }, "0", false],
      [{ _tag: "boolean" }, "y", "expected true or false"],
      [{ _tag: "text" }, "x y", "x y"],
      [{ _tag: "oneOf", values: ["a", "b"] }, "b", "b"],
      [{ _tag: "oneOf", values: [1] }, "1", 1],
      [{ _tag: "oneOf", values: ["a", "b"] }, "A", "expected one of: a, b"]
    ]
    for (const [kind, text, expected] of rows) {
      const got = Either.match(parse(kind, text), {
        onLeft: (message) => message,
        onRight: (value) => Duration.isDuration(value) ? millis(value) : value
      })
      expect(got, `${kind._tag} ${text}`).toEqual(expected)
    }
  })

  it("any provider: a list from JSON; a second cluster's variables under a prefix with Config.nested", () => {
    const fromJson = Effect.runSync(Effect.withConfigProvider(
      FastOrm.config,
      ConfigProvider.fromJson({ FASTORM_WRITE_URL: PG, FASTORM_READ_URLS: ["postgresql://app:pw@r1/app"] })
    ))
    expect((fromJson.read as ReadonlyArray<unknown>).length).toBe(1)
    // The environment's delimiter: USERS_FASTORM_WRITE_URL.
    const users = ConfigProvider.fromMap(
      new Map([["USERS_FASTORM_WRITE_URL", PG], ["USERS_FASTORM_HEALTH_INTERVAL", "soon"]]),
      { pathDelim: "_" }
    )
    const nested = Effect.runSync(Effect.flip(Effect.withConfigProvider(Config.nested(FastOrm.config, "USERS"), users)))
    expect(problems(nested)).toEqual([
      "USERS.FASTORM_HEALTH_INTERVAL: expected a duration such as \"5 seconds\", \"500 millis\" or a number of " +
      "milliseconds"
    ])
  })
})

describe("the documentation lists every variable", () => {
  const fromRoot = (file: string) => Fs.readFileSync(new URL(`../../../${file}`, import.meta.url), "utf8")
  it("README's table, in order", () => {
    const readme = fromRoot("README.md")
    const section = readme.slice(readme.indexOf("### Configuration from the environment"), readme.indexOf("### Errors"))
    const rows = [...section.matchAll(/^\| `(FASTORM_[A-Z_]+)` \|/gm)].map((m) => m[1])
    expect(rows).toEqual(variableNames)
  })

  it(".env.example", () => {
    const example = fromRoot(".env.example")
    const names = [...example.matchAll(/^(?:# )?(FASTORM_[A-Z_]+)=/gm)].map((m) => m[1])
    expect([...names].sort()).toEqual([...variableNames].sort())
  })
})

const CANARY = "S3cr3t-canary"
const FORMS = [CANARY, encodeURIComponent(CANARY), "S3cr3t"]

describe("FastOrm.config never shows a password", () => {
  const leaks = (value: unknown): ReadonlyArray<string> =>
    [String(value), inspect(value, { depth: 20, showHidden: true }), JSON.stringify(value) ?? ""].filter((text) =>
      FORMS.some((form) => text.includes(form))
    )

  it("not in a ConfigError's renderings, whatever is wrong with the URLs, nor in the configuration read", () => {
    const bad = {
      FASTORM_WRITE_URL: `postgres://app:${CANARY}@:99999/`,
      FASTORM_READ_URLS: [
        `oracle://app:${CANARY}@db/app`,
        `postgres://app:${CANARY}@db/app?bogus=${CANARY}`,
        // An unencoded comma in a password splits the list: neither half may show a piece of it.
        `postgres://app:${CANARY},x@db/app`,
        `app:${CANARY}@db/app`
      ].join(","),
      // A URL put in the wrong variable.
      FASTORM_HEALTH_INTERVAL: `postgres://app:${CANARY}@db/app`,
      FASTORM_POOL_SIZE: CANARY,
      FASTORM_READ_WRITE_CONSISTENCY: CANARY,
      FASTORM_READ_WEIGHTS: CANARY
    }
    const error = Effect.runSync(Effect.flip(Effect.withConfigProvider(FastOrm.config, providerOf(bad))))
    expect(problems(error).length).toBe(6)
    expect(leaks(error)).toEqual([])
    expect(leaks(Cause.pretty(Cause.fail(error)))).toEqual([])
    const good = configOf({
      FASTORM_WRITE_URL: `postgres://app:${CANARY}@db/app`,
      FASTORM_READ_URLS: `postgres://app:${CANARY}@r1/app`,
      FASTORM_READ_NAMES: "r1"
    })
    expect(leaks(good)).toEqual([])
  })
})

describe("FastOrmLive", () => {
  const tempDir = Effect.acquireRelease(
    Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "fastorm-config-"))),
    (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
  )

  it.scopedLive("builds the layer from the provider's variables", () =>
    Effect.gen(function*() {
      const file = Path.join(yield* tempDir, "app.db")
      const router = yield* Layer.build(FastOrmLive).pipe(
        Effect.map((context) => Context.get(context, ConnectionRouter.ConnectionRouter)),
        Effect.withConfigProvider(providerOf({
          FASTORM_NAME: "users",
          FASTORM_WRITE_URL: `sqlite:///${file}`,
          FASTORM_READ_URLS: `sqlite:///${file},sqlite:///${file}`,
          FASTORM_READ_NAMES: "reader-a,reader-b",
          FASTORM_POOL_BUSY_TIMEOUT: "2 seconds"
        }))
      )
      expect([router.cluster, router.replicas]).toEqual(["users", ["reader-a", "reader-b"]])
    }))

  it.scopedLive("bad configuration fails the layer with the ConfigError, before anything is opened", () =>
    Effect.gen(function*() {
      const file = Path.join(yield* tempDir, "app.db")
      const exit = yield* Effect.exit(
        Layer.build(FastOrmLive).pipe(
          Effect.withConfigProvider(providerOf({ FASTORM_WRITE_URL: `sqlite:///${file}`, FASTORM_POOL_SIZE: "3" }))
        )
      )
      expect(Exit.isFailure(exit)).toBe(true)
      const failure = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : undefined
      expect(failure?._tag === "Some" && ConfigError.isConfigError(failure.value)).toBe(true)
      expect(String(failure?._tag === "Some" ? failure.value : "")).toBe(
        "(Invalid data at FASTORM_POOL_SIZE: \"\"poolSize\" does not apply to SQLite (it is a PostgreSQL and " +
          "MySQL/MariaDB setting)\")"
      )
      expect(Fs.existsSync(file)).toBe(false)
    }))

  it.scopedLive("a replica's weight is checked by the layer too: InvalidCluster", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(
        Layer.build(FastOrm.layer({ write: "sqlite://:memory:", read: [{ url: "sqlite://:memory:", weight: -1 }] }))
      )
      const failure = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : undefined
      expect(failure?._tag === "Some" ? failure.value.message : "").toBe(
        "Invalid cluster: replica-1's weight must be a finite number >= 0"
      )
    }))

  it.scopedLive("InvalidCluster lists every problem of a check at once", () =>
    Effect.gen(function*() {
      const messageOf = (config: Parameters<typeof FastOrm.layer>[0]) =>
        Effect.map(Effect.exit(Layer.build(FastOrm.layer(config))), (exit) => {
          const failure = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : undefined
          return failure?._tag === "Some" ? failure.value.message : ""
        })
      expect(
        yield* messageOf({
          write: "sqlite://:memory:",
          read: [{ url: "sqlite://:memory:", name: "r", weight: -1 }, { url: "sqlite://:memory:", name: "r" }]
        })
      ).toBe("Invalid cluster: two nodes have the same name; r's weight must be a finite number >= 0")
      expect(
        yield* messageOf({ write: "sqlite://:memory:", read: ["postgres://app@127.0.0.1/app", "sqlite://:memory:"] })
      ).toBe(
        "Invalid cluster: replica-1 is postgresql, primary is sqlite; replica-2 is sqlite://:memory:, a private " +
          "in-memory database that cannot see the primary's data: read the primary's own file (sqlite:///app.db), or " +
          "give no read URL"
      )
    }))
})
