import { SqlError } from "@effect/sql/SqlError"
import { describe, expect, it } from "@effect/vitest"
import { AdapterError } from "@fastorm/adapters"
import * as Cause from "effect/Cause"
import { classify, isAuthenticationError, isConnectionError } from "../src/ErrorClassification.js"

const sys = (code: string, message = code) => Object.assign(new Error(message), { code })
const sql = (cause: unknown) => new SqlError({ cause, message: "Failed to execute statement" })

describe("ErrorClassification", () => {
  it("Node system errors of a lost or refused connection are connection-class", () => {
    for (const code of ["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "EHOSTUNREACH"]) {
      expect(classify(sql(sys(code)))).toEqual({ _tag: "Connection", code })
    }
  })

  it("mysql2 PROTOCOL_CONNECTION_LOST is connection-class", () => {
    expect(
      classify(sql(Object.assign(new Error("Connection lost"), { code: "PROTOCOL_CONNECTION_LOST", fatal: true })))
    )
      .toEqual({ _tag: "Connection", code: "PROTOCOL_CONNECTION_LOST" })
  })

  it("pg SQLSTATE class 08 and 57P01-57P03 are connection-class", () => {
    for (const code of ["08000", "08003", "08006", "08001", "57P01", "57P02", "57P03"]) {
      expect(classify(sql({ code, severity: "FATAL", message: "terminating" }))._tag).toBe("Connection")
    }
  })

  it("pg-pool's code-less connection failures are connection-class", () => {
    expect(classify(sql(new Error("timeout exceeded when trying to connect")))._tag).toBe("Connection")
    expect(classify(sql(new Error("Connection terminated unexpectedly")))._tag).toBe("Connection")
  })

  it("an AggregateError of refused addresses (pg, host with several addresses) is connection-class", () => {
    const agg = new AggregateError([sys("ECONNREFUSED"), sys("ECONNREFUSED")], "")
    expect(classify(sql(agg))).toEqual({ _tag: "Connection", code: "ECONNREFUSED" })
  })

  it("TLS failures (an untrusted or mismatched certificate, no TLS on the server) are connection-class", () => {
    const acquire = (cause: unknown) => new SqlError({ cause, message: "Failed to acquire a connection to primary" })
    expect(classify(acquire(sys("SELF_SIGNED_CERT_IN_CHAIN", "self-signed certificate in certificate chain"))))
      .toEqual({ _tag: "Connection", code: "SELF_SIGNED_CERT_IN_CHAIN" })
    expect(classify(acquire(sys("ERR_TLS_CERT_ALTNAME_INVALID"))))
      .toEqual({ _tag: "Connection", code: "ERR_TLS_CERT_ALTNAME_INVALID" })
    expect(classify(acquire(new Error("The server does not support SSL connections")))._tag).toBe("Connection")
    expect(classify(acquire(sys("HANDSHAKE_SSL_ERROR", "unable to verify the first certificate"))))
      .toEqual({ _tag: "Connection", code: "UNABLE_TO_VERIFY_LEAF_SIGNATURE" })
    // PostgreSQL's refusal of a login without its client certificate stays a refused login.
    expect(classify(acquire({ code: "28000", message: "connection requires a valid client certificate" }))._tag)
      .toBe("Authentication")
  })

  it("refused logins are authentication failures", () => {
    expect(classify(sql({ code: "28P01", message: "password authentication failed for user \"app\"" })))
      .toEqual({ _tag: "Authentication", code: "28P01" })
    expect(classify(sql({ code: "28000" }))._tag).toBe("Authentication")
    expect(classify(sql({ code: "ER_ACCESS_DENIED_ERROR", errno: 1045, sqlState: "28000" })))
      .toEqual({ _tag: "Authentication", code: "ER_ACCESS_DENIED_ERROR" })
    expect(classify({ errno: 1045 })._tag).toBe("Authentication")
    expect(isAuthenticationError(sql({ code: "28P01" }))).toBe(true)
  })

  it("the adapters' ConnectionFailed is connection-class, and its cause decides when it has one", () => {
    expect(classify(new AdapterError.ConnectionFailed({ node: "r1", reason: "no answer within 5 seconds" })))
      .toEqual({ _tag: "Connection" })
    expect(classify(new AdapterError.ConnectionFailed({ node: "r1", cause: { code: "28P01" } }))._tag)
      .toBe("Authentication")
  })

  it("an Effect TimeoutException is connection-class", () => {
    expect(isConnectionError(new Cause.TimeoutException())).toBe(true)
  })

  it("ordinary statement errors are not", () => {
    for (
      const cause of [
        { code: "23505", message: "duplicate key" },
        { code: "42P01", message: "relation does not exist" },
        { code: "25006", message: "cannot execute INSERT in a read-only transaction" },
        { code: "57014", message: "canceling statement due to statement timeout" },
        { code: "ER_DUP_ENTRY", errno: 1062 },
        { code: "ER_SPECIFIC_ACCESS_DENIED_ERROR", errno: 1227 },
        new Error("something else")
      ]
    ) {
      expect(classify(sql(cause))._tag).toBe("Statement")
    }
    expect(classify(undefined)._tag).toBe("Statement")
    expect(classify("ECONNREFUSED")._tag).toBe("Statement")
  })

  it("survives cyclic causes", () => {
    const a: Record<string, unknown> = { message: "a" }
    a.cause = a
    expect(classify(a)._tag).toBe("Statement")
  })
})
