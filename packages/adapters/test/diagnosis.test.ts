/**
 * The connection-failure diagnosis, on the cause chains the drivers really produce (captured from pg, mysql2 and
 * better-sqlite3 against the test clusters, a closed port, an unresolvable name and a silent listener).
 */
import { SqlError } from "@effect/sql/SqlError"
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import { ConnectionFailed } from "../src/AdapterError.js"
import { diagnose } from "../src/internal/diagnosis.js"

const driver = (message: string, fields: Record<string, unknown> = {}) => Object.assign(new Error(message), fields)
const NO_TLS_HINT = "; turn TLS on on the server, or use sslmode=prefer / ssl-mode=PREFERRED to allow plaintext"
const UNTRUSTED_HINT = "; name the CA that signed it with sslrootcert (PostgreSQL) or ssl_ca (MySQL)"
const acquire = (cause: unknown) => new SqlError({ message: "Failed to acquire a connection to primary", cause })

const table: ReadonlyArray<
  readonly [name: string, cause: unknown, problem: string, code: string | undefined, text: string]
> = [
  [
    "pg: wrong password",
    acquire(driver("password authentication failed for user \"app\"", { code: "28P01", severity: "FATAL" })),
    "authentication",
    "28P01",
    "authentication failed (28P01): password authentication failed for user \"app\""
  ],
  [
    "mariadb: wrong password",
    acquire(driver("Access denied for user 'app'@'127.0.0.1' (using password: YES)", {
      code: "ER_ACCESS_DENIED_ERROR",
      errno: 1045,
      sqlState: "28000"
    })),
    "authentication",
    "ER_ACCESS_DENIED_ERROR",
    "authentication failed (ER_ACCESS_DENIED_ERROR): Access denied for user 'app'@'127.0.0.1' (using password: YES)"
  ],
  [
    "mysql: login refused by errno alone",
    driver("Access denied", { errno: 1045 }),
    "authentication",
    "1045",
    "authentication failed (1045): Access denied"
  ],
  [
    "closed port",
    acquire(driver("connect ECONNREFUSED 127.0.0.1:1", { code: "ECONNREFUSED", errno: -111, syscall: "connect" })),
    "refused",
    "ECONNREFUSED",
    "connection refused (ECONNREFUSED)"
  ],
  [
    "pg: every address of a host refused (AggregateError)",
    acquire(
      new AggregateError([
        driver("connect ECONNREFUSED ::1:1", { code: "ECONNREFUSED" }),
        driver("connect ECONNREFUSED 127.0.0.1:1", { code: "ECONNREFUSED" })
      ], "")
    ),
    "refused",
    "ECONNREFUSED",
    "connection refused (ECONNREFUSED)"
  ],
  [
    "unresolvable host",
    acquire(driver("getaddrinfo ENOTFOUND db.invalid", { code: "ENOTFOUND", hostname: "db.invalid" })),
    "hostNotFound",
    "ENOTFOUND",
    "host not found (ENOTFOUND)"
  ],
  [
    "mysql: FastORM's acquire timer",
    new SqlError({
      message: "Timed out acquiring a connection",
      cause: driver("acquire timeout", { code: "ETIMEDOUT" })
    }),
    "timeout",
    "ETIMEDOUT",
    "no answer (ETIMEDOUT)"
  ],
  [
    "pg: its own connect timeout wraps the terminated socket",
    acquire(driver("Connection terminated due to connection timeout", {
      cause: driver("Connection terminated unexpectedly")
    })),
    "timeout",
    undefined,
    "no answer"
  ],
  [
    "pg-pool: code-less timeout",
    acquire(driver("timeout exceeded when trying to connect")),
    "timeout",
    undefined,
    "no answer"
  ],
  ["Effect's timeout", new Cause.TimeoutException(), "timeout", undefined, "no answer"],
  [
    "pg: TLS asked of a server without it",
    acquire(driver("The server does not support SSL connections")),
    "tls",
    undefined,
    "the server does not support TLS: The server does not support SSL connections" + NO_TLS_HINT
  ],
  [
    "mysql: TLS asked of a server without it",
    acquire(driver("Server does not support secure connection", { code: "HANDSHAKE_NO_SSL_SUPPORT", fatal: true })),
    "tls",
    "HANDSHAKE_NO_SSL_SUPPORT",
    "the server does not support TLS (HANDSHAKE_NO_SSL_SUPPORT): Server does not support secure connection" +
    NO_TLS_HINT
  ],
  [
    "Node: a certificate that does not match",
    driver("Hostname/IP does not match certificate's altnames", { code: "ERR_TLS_CERT_ALTNAME_INVALID" }),
    "tls",
    "ERR_TLS_CERT_ALTNAME_INVALID",
    "the host name does not match the server certificate (ERR_TLS_CERT_ALTNAME_INVALID): Hostname/IP does not match " +
    "certificate's altnames; connect by a name the certificate lists, or use verify-ca / VERIFY_CA"
  ],
  [
    "pg: a certificate no trusted CA signed",
    acquire(driver("self-signed certificate in certificate chain", { code: "SELF_SIGNED_CERT_IN_CHAIN" })),
    "tls",
    "SELF_SIGNED_CERT_IN_CHAIN",
    "untrusted server certificate (SELF_SIGNED_CERT_IN_CHAIN): self-signed certificate in certificate chain" +
    UNTRUSTED_HINT
  ],
  [
    "mysql2: the handshake's code replaced, Node's words read back",
    acquire(driver("unable to verify the first certificate", { code: "HANDSHAKE_SSL_ERROR", fatal: true })),
    "tls",
    "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
    "untrusted server certificate (UNABLE_TO_VERIFY_LEAF_SIGNATURE): unable to verify the first certificate" +
    UNTRUSTED_HINT
  ],
  [
    "mysql2: a host-name mismatch behind HANDSHAKE_SSL_ERROR",
    acquire(driver("Hostname/IP does not match certificate's altnames: IP: 127.0.0.2 is not in the cert's list", {
      code: "HANDSHAKE_SSL_ERROR"
    })),
    "tls",
    "ERR_TLS_CERT_ALTNAME_INVALID",
    "the host name does not match the server certificate (ERR_TLS_CERT_ALTNAME_INVALID): Hostname/IP does not match " +
    "certificate's altnames: IP: 127.0.0.2 is not in the cert's list; connect by a name the certificate lists, or use " +
    "verify-ca / VERIFY_CA"
  ],
  [
    "a revoked server certificate",
    driver("certificate revoked", { code: "CERT_REVOKED" }),
    "tls",
    "CERT_REVOKED",
    "server certificate revoked (CERT_REVOKED): certificate revoked"
  ],
  [
    "pg: a cert rule without a client certificate (28000)",
    acquire(driver("connection requires a valid client certificate", { code: "28000" })),
    "tls",
    "28000",
    "client certificate refused (28000): connection requires a valid client certificate"
  ],
  [
    "the server refuses the client certificate with a TLS alert",
    driver("tlsv1 alert unknown ca", { code: "ERR_SSL_TLSV1_ALERT_UNKNOWN_CA" }),
    "tls",
    "ERR_SSL_TLSV1_ALERT_UNKNOWN_CA",
    "client certificate refused (ERR_SSL_TLSV1_ALERT_UNKNOWN_CA): tlsv1 alert unknown ca"
  ],
  [
    "pg: 28000 for anything else is a refused login",
    acquire(driver("pg_hba.conf rejects connection for host \"127.0.0.1\", user \"app_cert\", no encryption", {
      code: "28000"
    })),
    "authentication",
    "28000",
    "authentication failed (28000): pg_hba.conf rejects connection for host \"127.0.0.1\", user \"app_cert\", no " +
    "encryption"
  ],
  [
    "pg: the server hung up during the handshake",
    acquire(driver("Connection terminated unexpectedly")),
    "closed",
    undefined,
    "the server closed the connection"
  ],
  [
    "mysql: the server hung up during the handshake",
    acquire(driver("Connection lost: The server closed the connection.", { code: "PROTOCOL_CONNECTION_LOST" })),
    "closed",
    "PROTOCOL_CONNECTION_LOST",
    "the server closed the connection (PROTOCOL_CONNECTION_LOST)"
  ],
  [
    "pg: shutting down",
    acquire(driver("terminating connection due to administrator command", { code: "57P01" })),
    "closed",
    "57P01",
    "the server is shutting down (57P01)"
  ],
  [
    "pg: a database that does not exist",
    acquire(driver("database \"nosuchdb\" does not exist", { code: "3D000" })),
    "other",
    "3D000",
    "database \"nosuchdb\" does not exist (3D000)"
  ],
  [
    "sqlite: a file that cannot be opened",
    acquire(driver("unable to open database file", { code: "SQLITE_CANTOPEN" })),
    "other",
    "SQLITE_CANTOPEN",
    "unable to open database file (SQLITE_CANTOPEN)"
  ],
  [
    "sqlite: a folder that does not exist (no code)",
    acquire(new TypeError("Cannot open database because the directory does not exist")),
    "other",
    undefined,
    "Cannot open database because the directory does not exist"
  ],
  [
    "the outermost failure it recognises wins; an unknown code only when nothing else is known",
    acquire(
      driver("odd", { code: "XX999", cause: driver("connect ECONNREFUSED 127.0.0.1:1", { code: "ECONNREFUSED" }) })
    ),
    "refused",
    "ECONNREFUSED",
    "connection refused (ECONNREFUSED)"
  ],
  [
    "a tagged error's message is not read as a driver's",
    { _tag: "SomeWrapper", message: "the server closed the connection", cause: driver("x", { code: "ENOTFOUND" }) },
    "hostNotFound",
    "ENOTFOUND",
    "host not found (ENOTFOUND)"
  ],
  ["nothing to go on", acquire(undefined), "other", undefined, "connection failed"],
  ["not an error at all", "boom", "other", undefined, "boom"]
]

describe("diagnose", () => {
  for (const [name, cause, problem, code, text] of table) {
    it(name, () => {
      expect(diagnose(cause)).toEqual({ problem, ...(code === undefined ? {} : { code }), text })
    })
  }

  it("MySQL's refused login keeps its \"(using password: YES)\"; a real password after \"password:\" is still blanked", () => {
    const refused = (text: string) =>
      new ConnectionFailed({
        node: "primary",
        cause: acquire(driver(text, { code: "ER_ACCESS_DENIED_ERROR", errno: 1045 }))
      }).message
    expect(refused("Access denied for user 'app'@'h' (using password: YES)")).toBe(
      "Could not connect to database node \"primary\": authentication failed (ER_ACCESS_DENIED_ERROR): Access denied " +
        "for user 'app'@'h' (using password: YES)"
    )
    expect(refused("login failed, password: hunter2)")).not.toContain("hunter2")
    expect(refused("login failed, password: YESplease)")).not.toContain("YESplease")
  })

  it("a cycle in the chain ends the walk", () => {
    const a: Record<string, unknown> = { message: "a" }
    a.cause = { message: "b", cause: a }
    expect(diagnose(a).problem).toBe("other")
  })

  it("ConnectionFailed names the problem and the code in its message, String and Cause.pretty; nested, it keeps them", () => {
    const failed = new ConnectionFailed({
      node: "primary",
      cause: acquire(driver("connect ECONNREFUSED 127.0.0.1:1", { code: "ECONNREFUSED" }))
    })
    expect(failed.problem).toBe("refused")
    expect(failed.code).toBe("ECONNREFUSED")
    expect(failed.message).toBe("Could not connect to database node \"primary\": connection refused (ECONNREFUSED)")
    expect(String(failed)).toContain("connection refused (ECONNREFUSED)")
    expect(Cause.pretty(Cause.fail(failed))).toContain("connection refused (ECONNREFUSED)")
    expect(diagnose(new SqlError({ message: "wrapped", cause: failed }))).toEqual({
      problem: "refused",
      code: "ECONNREFUSED",
      text: "connection refused (ECONNREFUSED)"
    })
    const timedOut = new ConnectionFailed({ node: "primary", reason: "no answer within 5s", problem: "timeout" })
    expect([timedOut.problem, timedOut.message]).toEqual([
      "timeout",
      "Could not connect to database node \"primary\": no answer within 5s"
    ])
  })
})
