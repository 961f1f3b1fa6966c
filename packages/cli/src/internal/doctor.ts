/**
 * `fastorm doctor <url>`: one node checked the way FastORM will use it. The URL is validated (nothing is printed of
 * it but its password-free identity), a connection is opened, and the server's version, the features FastORM
 * derives from its static table, the session settings read back, the node's role and lag, and missing privileges
 * (with the grant that fixes each) are reported.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import { ConnectionUrl, DatabaseAdapterFactory } from "@fastorm/adapters"
import type { DatabaseAdapter, DatabaseFeatures } from "@fastorm/adapters"
import { Probe } from "@fastorm/health"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Privileges from "./privileges.js"
import * as Settings from "./settings.js"

/** What `fastorm doctor` found on one URL. */
export interface NodeReport {
  /** The URL's password-free identity (`postgresql://host:port/db`), or the argument's position when it is invalid. */
  readonly url: string
  readonly user: string | null
  /** `invalid`: the URL does not parse; `unreachable`: no connection; `problems`: connected, something is off. */
  readonly verdict: "ok" | "problems" | "unreachable" | "invalid"
  readonly error: string | null
  readonly connectMs: number | null
  readonly server: { readonly product: string; readonly version: string } | null
  /** The features FastORM uses on this server version (from its static table), and where they differ from the table's
   * assumption before the server was asked. */
  readonly features: {
    readonly enabled: ReadonlyArray<string>
    readonly differFromAssumed: ReadonlyArray<string>
  } | null
  readonly settings: ReadonlyArray<Settings.Setting>
  readonly role: {
    readonly role: "primary" | "replica"
    readonly replicating: boolean | null
    readonly lagSeconds: number | null
  } | null
  readonly missingPrivileges: ReadonlyArray<Privileges.Missing>
}

const empty = (url: string, user: string | null) => ({
  url,
  user,
  error: null,
  connectMs: null,
  server: null,
  features: null,
  settings: [],
  role: null,
  missingPrivileges: []
})

// PostgreSQL reports server_version_num (150004): the parsed figures read better.
const versionText = (v: DatabaseFeatures.ServerVersion) =>
  v.raw !== undefined && v.raw.includes(".") ? v.raw : `${v.major}.${v.minor}${v.patch === 0 ? "" : `.${v.patch}`}`

const enabledOf = (features: DatabaseFeatures.DatabaseFeatures) =>
  Object.entries(features).filter(([, v]) => v === true).map(([k]) => k).sort()

const differences = (assumed: DatabaseFeatures.DatabaseFeatures, detected: DatabaseFeatures.DatabaseFeatures) =>
  Object.keys(detected).filter((k) =>
    (assumed as unknown as Record<string, unknown>)[k] !== (detected as unknown as Record<string, unknown>)[k]
  ).map((k) => `${k}: ${String((detected as unknown as Record<string, unknown>)[k])}`).sort()

const messageOf = (error: unknown): string =>
  typeof error === "object" && error !== null && "message" in error ? String(error.message) : String(error)

/** Checks one node, bounded by `timeout` for each step; never fails (every problem is in the report). */
export const check = (url: string, timeout: Duration.DurationInput, index = 0): Effect.Effect<NodeReport> =>
  Effect.gen(function*() {
    const parsed = ConnectionUrl.parseEither(url)
    if (Either.isLeft(parsed)) {
      return { ...empty(`argument ${index + 1}`, null), verdict: "invalid" as const, error: parsed.left.message }
    }
    const identity = ConnectionUrl.identity(parsed.right)
    const user = parsed.right.username ?? null
    const made = yield* Effect.either(DatabaseAdapterFactory.create(url, { name: "doctor" }))
    if (Either.isLeft(made)) {
      return { ...empty(identity, user), verdict: "invalid" as const, error: made.left.message }
    }
    return yield* connected(made.right, identity, user, Duration.decode(timeout))
  })

const connected = (
  adapter: DatabaseAdapter.DatabaseAdapter,
  identity: string,
  user: string | null,
  timeout: Duration.Duration
): Effect.Effect<NodeReport> =>
  Effect.scoped(Effect.gen(function*() {
    // A check changes nothing: a SQLite file is opened read-only, so a mistyped path creates no database and the
    // journal mode FastORM sets when it first opens the file for writing is not set by the doctor.
    const readOnly = adapter.dialect === "sqlite"
    const [elapsed, client] = yield* Effect.timed(
      Effect.either(adapter.makeClient(readOnly ? { verify: true, readOnly } : { verify: true }))
    )
    const connectMs = Math.round(Duration.toMillis(elapsed))
    if (Either.isLeft(client)) {
      return { ...empty(identity, user), verdict: "unreachable" as const, connectMs, error: client.left.message }
    }
    const c = client.right
    const detected = yield* Effect.either(Effect.timeout(adapter.detectFeatures(c), timeout))
    const version = Either.isRight(detected) ? detected.right.version : adapter.assumedVersion
    const isMariaDb = version.product === "mariadb"
    const settings = yield* Effect.orElseSucceed(
      Effect.timeout(Settings.readBack(c, adapter.optimalConfig, isMariaDb, readOnly), timeout),
      () => []
    )
    const probe = yield* Probe.fromAdapter(
      { name: "doctor", role: "any", adapter },
      { timeout, applicationName: "fastorm-doctor" }
    )
    const probed = yield* Effect.either(Effect.timeout(probe.run, timeout))
    const role = Either.isRight(probed)
      ? {
        role: probed.right.role,
        replicating: probed.right.replicating ?? null,
        lagSeconds: probed.right.lagSeconds ?? null
      }
      : null
    const missingPrivileges = role === null
      ? []
      : yield* Privileges.check(c, adapter.dialect, role.role, user ?? undefined, isMariaDb)
    const problems = [
      ...(Either.isLeft(detected) ? [`version: ${messageOf(detected.left)}`] : []),
      ...settings.filter((s) => !s.ok).map((s) => `setting ${s.name}: applied ${s.applied}, reads ${s.readBack}`),
      ...(Either.isLeft(probed) ? [`role: ${messageOf(probed.left)}`] : [])
    ]
    return {
      ...empty(identity, user),
      verdict: problems.length === 0 && missingPrivileges.length === 0 ? "ok" as const : "problems" as const,
      error: problems.length === 0 ? null : problems.join("; "),
      connectMs,
      server: { product: version.product, version: versionText(version) },
      features: {
        enabled: enabledOf(Either.isRight(detected) ? detected.right.features : adapter.features),
        differFromAssumed: Either.isRight(detected) ? differences(adapter.features, detected.right.features) : []
      },
      settings,
      role,
      missingPrivileges
    }
  })).pipe(Effect.provide(Reactivity.layer))

/** The report as text lines, for a terminal. */
export const render = (report: NodeReport): string => {
  const lines = [`${report.url}${report.user === null ? "" : ` (user ${report.user})`}: ${report.verdict}`]
  if (report.connectMs !== null) {
    lines.push(`  connect     ${report.verdict === "unreachable" ? "failed" : "ok"} after ${report.connectMs} ms`)
  }
  if (report.error !== null) lines.push(`  error       ${report.error}`)
  if (report.server !== null) lines.push(`  server      ${report.server.product} ${report.server.version}`)
  if (report.features !== null) {
    lines.push(`  features    ${report.features.enabled.join(", ")}`)
    if (report.features.differFromAssumed.length > 0) {
      lines.push(`              (differs from the assumed version: ${report.features.differFromAssumed.join(", ")})`)
    }
  }
  for (const s of report.settings) {
    lines.push(`  setting     ${s.name} = ${s.readBack ?? "?"}${s.ok ? "" : ` (FastORM applies ${s.applied})`}`)
  }
  if (report.role !== null) {
    const lag = report.role.lagSeconds === null ? "lag unknown" : `lag ${report.role.lagSeconds} s`
    lines.push(
      `  role        ${report.role.role}${
        report.role.role === "replica"
          ? `, ${report.role.replicating === false ? "not replicating" : "replicating"}, ${lag}`
          : ""
      }`
    )
  }
  for (const m of report.missingPrivileges) {
    lines.push(`  privilege   missing ${m.privilege} (needed for ${m.neededFor}): ${m.grant}`)
  }
  return lines.join("\n")
}
