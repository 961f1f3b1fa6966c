/**
 * The router and the health monitor end to end over verified TLS, on both test clusters (README, "TLS"): the monitor
 * probes every node as the certificate-only user (which the servers refuse without TLS and a client certificate), the
 * layer reads from the replicas and writes to the primary on encrypted connections, a replica whose certificate does
 * not verify gets no reads, and a primary whose certificate is not trusted stops the layer with the reason.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import { HealthMonitor } from "@fastorm/health"
import type { ClusterKind, NodeInfo } from "@fastorm/test-support"
import { CERT_USER, loadCluster, TlsFront, waitUntil, withOptions } from "@fastorm/test-support"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { ConnectionRouter, FastOrm, RouterError } from "../src/index.js"
import { backends, nodeByPort, noSession } from "./support/cluster.js"

const cluster = loadCluster()
const tls = cluster.tls

/** Verified TLS in each dialect's own spelling, with the client certificate when asked. */
const verified = (kind: ClusterKind, clientCertificate = false): Record<string, string> =>
  kind === "postgres"
    ? {
      sslmode: "verify-full",
      sslrootcert: tls.ca,
      ...(clientCertificate ? { sslcert: tls.clientCert, sslkey: tls.clientKey } : {})
    }
    : {
      "ssl-mode": "VERIFY_IDENTITY",
      ssl_ca: tls.ca,
      ...(clientCertificate ? { ssl_cert: tls.clientCert, ssl_key: tls.clientKey } : {})
    }

/** Whether the session this statement ran on is encrypted, by the server's word. */
const encryptedSql = (kind: ClusterKind) =>
  kind === "postgres"
    ? "SELECT ssl::text AS encrypted FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
    : "SELECT VARIABLE_VALUE <> '' AS encrypted FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME = 'Ssl_cipher'"

const isEncrypted = (kind: ClusterKind, client: SqlClient.SqlClient) =>
  Effect.map(client.unsafe<{ encrypted: unknown }>(encryptedSql(kind)), (rows) => String(rows[0]?.encrypted))

for (const b of backends()) {
  const kind = b.name
  const nodes = cluster[kind]
  const all: ReadonlyArray<NodeInfo> = [nodes.primary, ...nodes.replicas]

  describe(`over verified TLS on ${kind}`, () => {
    it.scopedLive("the health monitor probes every node with the client certificate: all healthy, replicas replicating", () =>
      Effect.gen(function*() {
        const monitor = yield* HealthMonitor.make({
          nodes: all.map((node) => ({
            name: node.name,
            role: node.role,
            url: withOptions(node.url, verified(kind, true), { user: CERT_USER })
          })),
          interval: "100 millis",
          timeout: "2 seconds"
        })
        yield* waitUntil(monitor.snapshot, (nodes) => nodes.every((n) => n.status === "HEALTHY"), {
          what: "every node HEALTHY over TLS",
          timeoutMs: 10_000
        })
        const snapshot = yield* monitor.snapshot
        expect(snapshot.map((n) => [n.name, n.role, n.replicating ?? "-"])).toEqual(
          all.map((n) => [n.name, n.role, n.role === "replica" ? true : "-"])
        )
      }))

    it.scopedLive("the router reads from both replicas and writes to the primary, every connection encrypted", () =>
      Effect.gen(function*() {
        const context = yield* Layer.build(FastOrm.layer({
          name: `tls-${kind}`,
          write: { url: withOptions(nodes.primary.url, verified(kind)), name: nodes.primary.name },
          read: nodes.replicas.map((r) => ({ url: withOptions(r.url, verified(kind)), name: r.name })),
          health: { interval: "100 millis", timeout: "2 seconds" }
        }))
        const router = Context.get(context, ConnectionRouter.ConnectionRouter)
        yield* router.write.unsafe(b.createTable)
        yield* router.write.unsafe(`INSERT INTO ${b.table} (label) VALUES (${b.param(1)})`, ["over tls"])
        // Read-your-writes over TLS: the session's read sees its own write.
        const mine = yield* router.read.unsafe<{ n: number }>(
          `SELECT COUNT(*) AS n FROM ${b.table} WHERE label = ${b.param(1)}`,
          ["over tls"]
        )
        expect(Number(mine[0]!.n)).toBeGreaterThan(0)
        const answered = new Set<string>()
        for (let i = 0; i < 20; i++) {
          const rows = yield* noSession(router.read.unsafe<{ port: number }>(b.whoSql))
          answered.add(nodeByPort(b, rows[0]!.port).name)
        }
        expect([...answered].sort()).toEqual(nodes.replicas.map((r) => r.name).sort())
        expect(yield* noSession(isEncrypted(kind, router.read))).toMatch(/^(true|1)$/)
        expect(yield* isEncrypted(kind, router.write)).toMatch(/^(true|1)$/)
      }))

    it.scopedLive("a replica whose certificate does not match its address gets no reads; the other replica serves", () =>
      Effect.gen(function*() {
        const [first, second] = nodes.replicas as [NodeInfo, NodeInfo]
        const front = yield* TlsFront.make(first, "otherAddress")
        const context = yield* Layer.build(FastOrm.layer({
          name: `tls-mismatch-${kind}`,
          write: { url: withOptions(nodes.primary.url, verified(kind)), name: nodes.primary.name },
          read: [
            { url: withOptions(front.url(first), verified(kind)), name: first.name },
            { url: withOptions(second.url, verified(kind)), name: second.name }
          ],
          readWrite: { connectTimeout: "1 second" },
          health: { interval: "100 millis", timeout: "1 second", failureThreshold: 1 }
        }))
        const router = Context.get(context, ConnectionRouter.ConnectionRouter)
        // Every read succeeds: a refused certificate is a node fault, retried on the next replica, never the caller's.
        const answered: Array<string> = []
        for (let i = 0; i < 20; i++) {
          const rows = yield* noSession(router.read.unsafe<{ port: number }>(b.whoSql))
          answered.push(nodeByPort(b, rows[0]!.port).name)
        }
        expect(answered).not.toContain(first.name)
        expect(answered).toContain(second.name)
      }))

    it.scopedLive("the layer does not start on a primary whose certificate is not trusted, and says why", () =>
      Effect.gen(function*() {
        const noCa = kind === "postgres" ? { sslmode: "verify-full" } : { "ssl-mode": "VERIFY_IDENTITY" }
        const exit = yield* Effect.exit(Layer.build(FastOrm.layer({
          write: withOptions(nodes.primary.url, noCa),
          readWrite: { connectTimeout: "2 seconds" }
        })))
        expect(Exit.isFailure(exit)).toBe(true)
        const error = Exit.isFailure(exit) ? Cause.squash(exit.cause) as { _tag: string; message: string } : undefined
        expect(error?._tag).toBe("PrimaryUnavailable")
        expect(error?.message).toMatch(/untrusted server certificate \(SELF_SIGNED_CERT_IN_CHAIN\)/)
        expect(error?.message).not.toMatch(/no answer/)
      }))

    it.scopedLive("started degraded, a write to that primary is PrimaryUnavailable (never sent), naming the certificate", () =>
      Effect.gen(function*() {
        const noCa = kind === "postgres" ? { sslmode: "verify-full" } : { "ssl-mode": "VERIFY_IDENTITY" }
        const context = yield* Layer.build(FastOrm.layer({
          write: withOptions(nodes.primary.url, noCa),
          readWrite: { connectTimeout: "2 seconds", startDegraded: true },
          health: { interval: "1 second" }
        }))
        const router = Context.get(context, ConnectionRouter.ConnectionRouter)
        const failure = yield* Effect.flip(router.write.unsafe(b.createTable))
        const routed = RouterError.fromSqlError(failure)
        expect(Option.map(routed, (e) => e._tag)).toEqual(Option.some("PrimaryUnavailable"))
        expect(Option.getOrThrow(routed).message).toMatch(/untrusted server certificate \(SELF_SIGNED_CERT_IN_CHAIN\)/)
      }))
  })
}
