/**
 * `fastorm doctor` and `fastorm status` against the real clusters: healthy nodes, a MariaDB replica whose user lacks
 * SLAVE MONITOR, a bad password, an invalid URL, a stopped replica; and the `fastorm` executable's exit codes. No
 * output carries a password.
 */
import { describe, expect, it } from "@effect/vitest"
import type { ClusterNodes } from "@fastorm/test-support"
import { APP_PASSWORD, control, loadCluster, startNode, stopNode, waitReplicated } from "@fastorm/test-support"
import * as Effect from "effect/Effect"
import { spawnSync } from "node:child_process"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { Cli } from "../src/index.js"

const cluster = loadCluster()
const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..")
const wrongPassword = "wrong-secret-42"
const badPassword = (url: string) => url.replace(`:${APP_PASSWORD}@`, `:${wrongPassword}@`)

const backends: ReadonlyArray<{ readonly label: string; readonly product: string; readonly nodes: ClusterNodes }> = [
  { label: "PostgreSQL", product: "postgresql", nodes: cluster.postgres },
  { label: "MariaDB", product: "mariadb", nodes: cluster.mariadb }
]

/** Runs the `fastorm` executable (from source) and returns its exit code and output. */
const fastorm = (args: ReadonlyArray<string>) => {
  const result = spawnSync(
    join(root, "node_modules", ".bin", "tsx"),
    ["--conditions=@fastorm/source", join(root, "packages", "cli", "src", "bin.ts"), ...args],
    { cwd: root, encoding: "utf8", timeout: 60_000 }
  )
  return { status: result.status, stdout: result.stdout, stderr: result.stderr }
}

for (const b of backends) {
  describe(`fastorm doctor on ${b.label}`, () => {
    it.live(
      "the primary and a replica: version, features, settings read back, role and lag",
      () =>
        Effect.gen(function*() {
          expect(b.nodes.primary.url).toContain(APP_PASSWORD)
          const { exitCode, reports } = yield* Cli.doctor([b.nodes.primary.url, b.nodes.replicas[0]!.url])
          const [primary, replica] = reports as [Cli.DoctorReport, Cli.DoctorReport]
          expect(primary.url).toBe(
            `${b.product === "postgresql" ? "postgresql" : "mysql"}://127.0.0.1:${b.nodes.primary.port}/fastorm`
          )
          expect(primary.verdict).toBe("ok")
          expect(primary.server?.product).toBe(b.product)
          expect(primary.server?.version).toMatch(b.product === "postgresql" ? /^15\b|^15\./ : /10\.11/)
          expect(primary.features?.enabled).toContain("supportsCte")
          expect(primary.settings.length).toBeGreaterThan(3)
          expect(primary.settings.filter((s) => !s.ok)).toEqual([])
          expect(primary.role).toMatchObject({ role: "primary" })
          expect(replica.role).toMatchObject({ role: "replica", replicating: true })
          if (b.product === "postgresql") {
            expect([replica.verdict, replica.missingPrivileges, exitCode]).toEqual(["ok", [], Cli.ExitCode.ok])
            expect(replica.role?.lagSeconds).toEqual(expect.any(Number))
          } else {
            // The test cluster's app user has no SLAVE MONITOR: the lag is unknown, and doctor says which grant fixes it.
            expect(replica.role?.lagSeconds).toBeNull()
            expect(replica.missingPrivileges).toEqual([expect.objectContaining({
              privilege: "SLAVE MONITOR",
              grant: "GRANT SLAVE MONITOR ON *.* TO 'app'@'%'"
            })])
            expect([replica.verdict, exitCode]).toEqual(["problems", Cli.ExitCode.problem])
          }
          const text = reports.map(Cli.renderDoctor).join("\n")
          expect(text).toContain("role        primary")
          expect(`${text}${JSON.stringify(reports)}`).not.toContain(APP_PASSWORD)
        }),
      60_000
    )

    it.live(
      "a URL's search_path (PostgreSQL) or timezone (MariaDB) is applied and read back",
      () =>
        Effect.gen(function*() {
          const [option, name, applied] = b.product === "postgresql"
            ? ["search_path=%22%24user%22,+public", "search_path", "\"$user\", public"]
            : ["timezone=%2B02:00", "time_zone", "+02:00"]
          const { reports } = yield* Cli.doctor([`${b.nodes.primary.url}?${option}`])
          const [primary] = reports as [Cli.DoctorReport]
          expect(primary.settings.find((s) => s.name === name)).toMatchObject({ applied, ok: true })
          expect(primary.settings.filter((s) => !s.ok)).toEqual([])
        }),
      60_000
    )

    it.live(
      "a bad password: unreachable, the login refused, exit code 1, the password never printed",
      () =>
        Effect.gen(function*() {
          const { exitCode, reports } = yield* Cli.doctor([badPassword(b.nodes.primary.url)])
          expect(exitCode).toBe(Cli.ExitCode.problem)
          expect(reports[0]!.verdict).toBe("unreachable")
          expect(reports[0]!.error).toMatch(/authentication|login|password|access denied/i)
          expect(JSON.stringify(reports) + Cli.renderDoctor(reports[0]!)).not.toContain(wrongPassword)
        }),
      60_000
    )
  })

  describe(`fastorm doctor on ${b.label}'s server settings`, () => {
    // libpq's options (PostgreSQL) or Connector/J's sessionVariables (MariaDB), and how the server reads them back.
    const [query, expected] = b.product === "postgresql"
      ? [`options=${encodeURIComponent("-c work_mem=64MB -c enable_seqscan=no -c app.tenant=acme")}`, {
        work_mem: { applied: "64MB", readBack: "65536" },
        enable_seqscan: { applied: "no", readBack: "off" },
        "app.tenant": { applied: "acme", readBack: "acme" }
      }]
      : [`sessionVariables=${encodeURIComponent("sql_mode='TRADITIONAL',sort_buffer_size=262144,big_tables=OFF")}`, {
        sql_mode: { applied: "TRADITIONAL" },
        sort_buffer_size: { applied: "262144", readBack: "262144" },
        big_tables: { applied: "OFF", readBack: "0" }
      }]
    it.live(
      "a URL's server settings are applied and read back in the server's own form",
      () =>
        Effect.gen(function*() {
          const { reports } = yield* Cli.doctor([`${b.nodes.primary.url}?${query}`])
          const [primary] = reports as [Cli.DoctorReport]
          for (const [name, setting] of Object.entries(expected)) {
            expect(primary.settings.find((s) => s.name === name), name).toMatchObject({ ...setting, ok: true })
          }
          if (b.product === "mariadb") {
            expect(primary.settings.find((s) => s.name === "sql_mode")?.readBack).toContain("strict_trans_tables")
          }
          expect(primary.settings.filter((s) => !s.ok)).toEqual([])
        }),
      60_000
    )
  })

  describe(`fastorm status on ${b.label}`, () => {
    it.scopedLive(
      "every node HEALTHY and ready; a replica stopped: still ready, the replica UNHEALTHY",
      () =>
        Effect.gen(function*() {
          const options: Cli.StatusOptions = {
            write: b.nodes.primary.url,
            read: b.nodes.replicas.map((r) => r.url),
            interval: "200 millis",
            timeout: "1 second"
          }
          const healthy = yield* Effect.scoped(Effect.map(Cli.status(options), (s) => s.first))
          expect(healthy.ready).toBe(true)
          expect(healthy.nodes.map((n) => [n.name, n.status])).toEqual([
            ["primary", "HEALTHY"],
            ["replica-1", "HEALTHY"],
            ["replica-2", "HEALTHY"]
          ])
          const victim = b.nodes.replicas[1]!
          yield* Effect.gen(function*() {
            yield* control(() => stopNode(victim))
            const down = yield* Effect.scoped(Effect.map(Cli.status(options), (s) => s.first))
            expect(down.ready).toBe(true)
            expect(down.nodes.find((n) => n.name === "replica-2")?.status).toBe("UNHEALTHY")
            const table = Cli.renderStatus(down)
            expect(table.split("\n")[0]).toMatch(/^READY: primary primary is HEALTHY/)
            expect(table).toMatch(/replica-2 +replica +UNHEALTHY/)
            expect(table).not.toContain(APP_PASSWORD)
          }).pipe(Effect.ensuring(
            control(() => startNode(victim, { timeoutMs: 60_000 })).pipe(
              Effect.zipRight(control(() => waitReplicated(b.nodes, { timeoutMs: 60_000 })))
            )
          ))
        }),
      120_000
    )
  })
}

describe("the fastorm executable", () => {
  it("doctor --json: exit 1 on a bad password, 2 on an invalid URL; status --once: exit 0 when ready", () => {
    const bad = fastorm(["doctor", "--json", badPassword(cluster.postgres.primary.url)])
    expect(bad.status).toBe(1)
    expect((JSON.parse(bad.stdout) as ReadonlyArray<Cli.DoctorReport>)[0]!.verdict).toBe("unreachable")
    expect(bad.stdout + bad.stderr).not.toContain(wrongPassword)

    const invalid = fastorm(["doctor", "postgresql://app:hunter2@:notaport/db"])
    expect(invalid.status).toBe(2)
    expect(invalid.stdout + invalid.stderr).not.toContain("hunter2")

    const status = fastorm([
      "status",
      "--once",
      "--write",
      cluster.postgres.primary.url,
      "--read",
      cluster.postgres.replicas[0]!.url
    ])
    expect(status.stdout.split("\n")[0]).toMatch(/^READY/)
    expect(status.status).toBe(0)
  }, 120_000)
})
