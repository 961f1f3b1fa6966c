/**
 * The secrets canary: nodes log in with the password `S3cr3t-canary`, and every failure path (wrong password, node
 * down, bad URL, statement errors, the health monitor's own reports) is driven. The canary must appear in no error
 * `message`, `String(e)`, `util.inspect(e, { depth: 10 })`, `JSON.stringify(e)`, `Cause.pretty` or log line.
 */
import { describe, expect, it } from "@effect/vitest"
import { Database, ReadConnection, WriteConnection } from "@fastorm/core"
import {
  CERT_USER,
  CLIENT_KEY_PASSPHRASE,
  createUser,
  dropUser,
  FaultProxy,
  loadCluster,
  sessionCount,
  TlsFront,
  waitReplicated,
  waitSessions,
  waitUntil,
  withOptions
} from "@fastorm/test-support"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { inspect } from "node:util"
import { ConnectionRouter, FastOrm, RouterError } from "../../src/index.js"
import type { Backend } from "./support.js"
import { backends, expectSessionsBack, KV_TABLE, sessionBaseline } from "./support.js"

const CANARY = "S3cr3t-canary"
const USER = "fastorm_canary"

/** Every rendering of a value the canary must not appear in. */
const renderings = (u: unknown): Record<string, string> => {
  const out: Record<string, string> = {}
  const e = u as { message?: unknown } | null
  if (e !== null && typeof e === "object" && "message" in e) out.message = String(e.message)
  out.string = String(u)
  out.inspect = inspect(u, { depth: 10 })
  try {
    out.json = JSON.stringify(u) ?? ""
  } catch (error) {
    out.json = `(not serialisable: ${String(error)})`
  }
  return out
}

/** A logger that keeps every line (any level) with its cause and annotations. */
const capture = () => {
  const lines: Array<string> = []
  const logger = Logger.make((options) => {
    lines.push(Logger.logfmtLogger.log(options))
    lines.push(inspect(options.message, { depth: 10 }))
    if (!Cause.isEmpty(options.cause)) lines.push(Cause.pretty(options.cause))
    lines.push(Logger.jsonLogger.log(options))
  })
  return { lines, layer: Logger.replace(Logger.defaultLogger, logger) }
}

interface Leak {
  readonly path: string
  readonly where: string
}

/** Runs one failure path, returns where a secret leaked (empty: nowhere) and what the failure was. */
const drive = <A, E>(
  path: string,
  effect: Effect.Effect<A, E>,
  lines: Array<string>,
  secrets: ReadonlyArray<string> = [CANARY]
) =>
  Effect.gen(function*() {
    const before = lines.length
    const exit = yield* Effect.exit(effect)
    const leaks: Array<Leak> = []
    let tag = "success"
    let detail = ""
    if (Exit.isFailure(exit)) {
      const failure = Cause.failureOption(exit.cause)
      const error = Option.isSome(failure) ? failure.value : Cause.squash(exit.cause)
      tag = (error as { _tag?: string } | null)?._tag ?? String(error).slice(0, 40)
      const inner = (error as { cause?: { cause?: unknown } } | null)?.cause
      detail = `${String(error)} <- ${String(inner)} <- ${String(inner?.cause)}`.split(CANARY).join("<CANARY>")
        .slice(0, 400)
      const leaked = (text: string) => secrets.some((secret) => text.includes(secret))
      for (const [where, text] of Object.entries(renderings(error))) {
        if (leaked(text)) leaks.push({ path, where })
      }
      if (leaked(Cause.pretty(exit.cause))) leaks.push({ path, where: "Cause.pretty" })
      if (leaked(inspect(exit.cause, { depth: 20 }))) leaks.push({ path, where: "inspect(cause)" })
    }
    for (const line of lines.slice(before)) {
      if (secrets.some((secret) => line.includes(secret))) {
        leaks.push({ path, where: `log: ${line.split(CANARY).join("<CANARY>").slice(0, 200)}` })
      }
    }
    return { path, tag, detail, leaks, logLines: lines.length - before }
  })

const canaryUrl = (b: Backend, port: number, extra = "") =>
  `${
    b.name === "postgres" ? "postgres" : "mysql"
  }://${USER}:${CANARY}@127.0.0.1:${port}/${b.nodes.primary.database}${extra}`

const layerOf = (
  b: Backend,
  write: string | Redacted.Redacted<string>,
  read: ReadonlyArray<string | Redacted.Redacted<string>>,
  extra: { startDegraded?: boolean } = {}
) =>
  FastOrm.layer({
    name: `canary-${b.name}`,
    write,
    read,
    readWrite: { connectTimeout: "1 second", statementTimeout: "2 seconds", ...extra },
    health: { interval: "100 millis", timeout: "1 second", failureThreshold: 1, authBackoffBase: "200 millis" },
    pool: { poolSize: 1, maxOverflow: 2 }
  })

for (const b of backends) {
  describe(`secrets canary on ${b.name}`, () => {
    it.scopedLive(
      "the canary password appears in no error, rendering, cause or log line on any failure path",
      () =>
        Effect.gen(function*() {
          const baseline = yield* Effect.promise(() => sessionBaseline(b))
          yield* Effect.acquireRelease(
            Effect.promise(async () => {
              await createUser(b.nodes.primary, USER, CANARY)
              await waitReplicated(b.nodes)
            }),
            () => Effect.promise(() => dropUser(b.nodes.primary, USER))
          )
          const { layer: logLayer, lines } = capture()
          const primary = b.nodes.primary
          const [r1, r2] = b.nodes.replicas as [Backend["nodes"]["primary"], Backend["nodes"]["primary"]]
          const good = canaryUrl(b, primary.port)
          const goodReads = [canaryUrl(b, r1.port), canaryUrl(b, r2.port)]
          const wrongPassword = (port: number) =>
            `${b.name === "postgres" ? "postgres" : "mysql"}://${
              b.nodes.primary.url.split("://")[1]!.split(":")[0]
            }:${CANARY}@127.0.0.1:${port}/${primary.database}`
          const down = yield* FaultProxy.forNode(primary, FaultProxy.refuse("close"))

          const statements = Effect.gen(function*() {
            const read = yield* ReadConnection
            const write = yield* WriteConnection
            const router = yield* ConnectionRouter.ConnectionRouter
            const results: Array<string> = []
            const attempt = <A, E>(e: Effect.Effect<A, E, WriteConnection>) =>
              Effect.map(Effect.exit(RouterError.refine(Effect.provideService(e, WriteConnection, write))), (x) => {
                results.push(Exit.isSuccess(x) ? "ok" : "failed")
                return x
              })
            yield* attempt(read.unsafe("SELECT 1 AS one"))
            const failures = [
              yield* attempt(read.unsafe(`SELECT * FROM no_such_table_${b.name}`)),
              yield* attempt(read.unsafe("SELEC broken syntax")),
              yield* attempt(write.unsafe(`INSERT INTO ${KV_TABLE} (k, v) VALUES ('canary', 'canary')`)),
              yield* attempt(Database.transaction(write.unsafe("SELECT * FROM no_such_table_tx"))),
              yield* attempt(router.write.unsafe(`UPDATE ${KV_TABLE} SET v = 'x' WHERE 1 = 0`))
            ]
            const failed = failures.find(Exit.isFailure)
            return yield* failed === undefined ? Effect.succeed(results) : Effect.flatten(Effect.exit(failed))
          })

          const paths = [
            drive(
              "wrong password on the primary (layer start)",
              Effect.scoped(Layer.build(layerOf(b, wrongPassword(primary.port), []))),
              lines
            ),
            drive(
              "wrong password on a replica (reads elsewhere, monitor reports)",
              Effect.gen(function*() {
                const read = yield* ReadConnection
                for (let i = 0; i < 6; i++) yield* read.unsafe("SELECT 1 AS one")
                // Let the monitor probe the bad replica and log its state changes.
                yield* waitUntil(Effect.sync(() => lines.length > 0), (ok) => ok, {
                  what: "the monitor to log the bad replica",
                  timeoutMs: 5_000
                })
                return yield* Effect.fail(new Error("expected failure marker"))
              }).pipe(Effect.provide(layerOf(b, good, [wrongPassword(r1.port), goodReads[1]!]))),
              lines
            ),
            drive(
              "primary down (layer start)",
              Effect.scoped(Layer.build(layerOf(b, down.url(good), goodReads))),
              lines
            ),
            drive(
              "primary down, started degraded: a write",
              Effect.flatMap(WriteConnection, (w) => RouterError.refine(w.unsafe("SELECT 1"))).pipe(
                Effect.provide(layerOf(b, down.url(good), goodReads, { startDegraded: true }))
              ),
              lines
            ),
            drive(
              "replica down",
              Effect.gen(function*() {
                const read = yield* ReadConnection
                for (let i = 0; i < 4; i++) yield* read.unsafe("SELECT 1 AS one")
                return yield* Effect.fail(new Error("expected failure marker"))
              }).pipe(Effect.provide(layerOf(b, good, [down.url(goodReads[0]!), goodReads[1]!]))),
              lines
            ),
            drive(
              "bad port",
              Effect.scoped(Layer.build(layerOf(b, canaryUrl(b, 0).replace(":0/", ":notaport/"), []))),
              lines
            ),
            drive(
              "bad option",
              Effect.scoped(Layer.build(layerOf(b, canaryUrl(b, primary.port, "?sslmode=bogus&nope=1"), []))),
              lines
            ),
            drive(
              "unsupported scheme",
              Effect.scoped(Layer.build(layerOf(b, `foo://${USER}:${CANARY}@127.0.0.1/db`, []))),
              lines
            ),
            drive(
              "password as a query parameter",
              Effect.scoped(
                Layer.build(layerOf(b, `${good.replace(`:${CANARY}@`, "@")}?password=${CANARY}&port=notaport`, []))
              ),
              lines
            ),
            drive("statement errors", Effect.provide(statements, layerOf(b, good, goodReads)), lines),
            drive(
              "statement errors, Redacted URLs",
              Effect.provide(statements, layerOf(b, Redacted.make(good), goodReads.map((u) => Redacted.make(u)))),
              lines
            )
          ]
          const results = yield* Effect.forEach(paths, (p) => p).pipe(
            Effect.provide(logLayer),
            Logger.withMinimumLogLevel(LogLevel.All)
          )
          console.log(
            `[canary ${b.name}]\n  ${
              results.map((r) => `${r.path}: ${r.tag} (${r.logLines} log lines) ${r.detail}`).join("\n  ")
            }`
          )
          const leaks = results.flatMap((r) => r.leaks)
          expect(leaks).toEqual([])
          // Every path failed (a path that succeeded would not have exercised its failure).
          expect(results.filter((r) => r.tag === "success").map((r) => r.path)).toEqual([])
          expect(lines.length).toBeGreaterThan(0)
          yield* Effect.promise(() =>
            Promise.all([primary, r1, r2].map((n) => waitSessions(n, (c) => c === 0, { user: USER })))
          )
          yield* expectSessionsBack(b, baseline)
          expect(yield* Effect.promise(() => sessionCount(primary, USER))).toBe(0)
        }),
      90_000
    )

    it.scopedLive(
      "over TLS: the password, the key's passphrase and the key material appear nowhere on any TLS failure path",
      () =>
        Effect.gen(function*() {
          yield* Effect.acquireRelease(
            Effect.promise(async () => {
              await createUser(b.nodes.primary, USER, CANARY)
              await waitReplicated(b.nodes)
            }),
            () => Effect.promise(() => dropUser(b.nodes.primary, USER))
          )
          const { layer: logLayer, lines } = capture()
          const tls = loadCluster().tls
          const pg = b.name === "postgres"
          const primary = b.nodes.primary
          const [r1, r2] = b.nodes.replicas as [Backend["nodes"]["primary"], Backend["nodes"]["primary"]]
          // The key's base64 lines and the real passphrase count as secrets too.
          const keyLines = [tls.clientKey, tls.clientKeyEncrypted].flatMap((file) =>
            readFileSync(file, "utf8").split("\n").filter((line) => line.length > 20 && !line.startsWith("-----"))
          )
          const secrets = [CANARY, CLIENT_KEY_PASSPHRASE, ...keyLines]
          const garbageKey = join(tls.dir, `garbage-${b.name}.key`)
          writeFileSync(garbageKey, `-----BEGIN PRIVATE KEY-----\n${CANARY}\n-----END PRIVATE KEY-----\n`)
          const url = (node: Backend["nodes"]["primary"], options: Record<string, string>, user = USER) =>
            withOptions(
              `${pg ? "postgres" : "mysql"}://${user}:${CANARY}@127.0.0.1:${node.port}/${node.database}`,
              options
            )
          const verified = pg
            ? { sslmode: "verify-full", sslrootcert: tls.ca }
            : { "ssl-mode": "VERIFY_IDENTITY", ssl_ca: tls.ca }
          const noCa = pg ? { sslmode: "verify-full" } : { "ssl-mode": "VERIFY_IDENTITY" }
          const client = pg
            ? { sslcert: tls.clientCert, sslkey: tls.clientKeyEncrypted, sslpassword: CLIENT_KEY_PASSPHRASE }
            : { ssl_cert: tls.clientCert, ssl_key: tls.clientKey }
          const mismatch = yield* TlsFront.make(r1, "otherAddress")
          const withoutTls = yield* TlsFront.make(primary, "withoutTls")
          const start = (write: string, read: ReadonlyArray<string> = []) =>
            Effect.scoped(Layer.build(layerOf(b, write, read)))
          const paths = [
            drive(
              "untrusted primary certificate (layer start)",
              start(url(primary, { ...noCa, ...client })),
              lines,
              secrets
            ),
            drive(
              "a replica whose certificate names another host (reads elsewhere, monitor reports)",
              Effect.gen(function*() {
                const read = yield* ReadConnection
                for (let i = 0; i < 6; i++) yield* Effect.exit(read.unsafe("SELECT 1 AS one"))
                yield* waitUntil(Effect.sync(() => lines.length > 0), (ok) => ok, {
                  what: "the monitor to log the mismatched replica",
                  timeoutMs: 5_000
                })
                return yield* Effect.fail(new Error("expected failure marker"))
              }).pipe(Effect.provide(layerOf(b, url(primary, { ...verified, ...client }), [
                mismatch.url(url(r1, { ...verified, ...client })),
                url(r2, { ...verified, ...client })
              ]))),
              lines,
              secrets
            ),
            drive(
              "a primary without TLS, started degraded: a write",
              Effect.flatMap(WriteConnection, (w) => RouterError.refine(w.unsafe("SELECT 1"))).pipe(
                Effect.provide(layerOf(b, withoutTls.url(url(primary, { ...verified, ...client })), [], {
                  startDegraded: true
                }))
              ),
              lines,
              secrets
            ),
            drive(
              "the certificate user without a certificate",
              start(url(primary, verified, CERT_USER)),
              lines,
              secrets
            ),
            drive(
              "a key file holding no key",
              start(url(primary, {
                ...verified,
                ...(pg
                  ? { sslcert: tls.clientCert, sslkey: garbageKey }
                  : { ssl_cert: tls.clientCert, ssl_key: garbageKey })
              })),
              lines,
              secrets
            ),
            drive(
              "a CA file that does not exist",
              start(url(
                primary,
                pg
                  ? { sslmode: "verify-full", sslrootcert: `/nonexistent/${CANARY}.pem` }
                  : { ssl_ca: `/nonexistent/${CANARY}.pem` }
              )),
              lines,
              secrets
            ),
            ...(pg
              ? [
                drive(
                  "a passphrase that does not open the key",
                  start(
                    url(primary, {
                      ...verified,
                      sslcert: tls.clientCert,
                      sslkey: tls.clientKeyEncrypted,
                      sslpassword: CANARY
                    })
                  ),
                  lines,
                  secrets
                ),
                drive(
                  "a revoked server certificate",
                  start(url(primary, { ...verified, ...client, sslcrl: tls.revokingCrl })),
                  lines,
                  secrets
                )
              ]
              : [])
          ]
          const results = yield* Effect.forEach(paths, (p) => p).pipe(
            Effect.provide(logLayer),
            Logger.withMinimumLogLevel(LogLevel.All)
          )
          console.log(
            `[tls canary ${b.name}]\n  ${
              results.map((r) => `${r.path}: ${r.tag} (${r.logLines} log lines) ${r.detail}`).join("\n  ")
            }`
          )
          expect(results.flatMap((r) => r.leaks)).toEqual([])
          expect(results.filter((r) => r.tag === "success").map((r) => r.path)).toEqual([])
          // Each failure says what happened (the TLS reason or the file problem), not a bare timeout.
          expect(results.map((r) => [r.path, /no answer/.test(r.detail)])).toEqual(results.map((r) => [r.path, false]))
        }),
      90_000
    )
  })
}
