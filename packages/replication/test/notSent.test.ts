import { SqlError } from "@effect/sql/SqlError"
import { describe, expect, it } from "@effect/vitest"
import { wasNotSent } from "../src/internal/failures.js"

const sqlError = (cause: unknown) => new SqlError({ message: "Failed to execute statement", cause })

describe("wasNotSent: a write that never left the process is not an unknown outcome", () => {
  it("a reset reported by the write itself, EPIPE, and closed-connection refusals were not sent", () => {
    expect(wasNotSent(sqlError(Object.assign(new Error("write ECONNRESET"), { code: "ECONNRESET", syscall: "write" }))))
      .toBe(true)
    expect(wasNotSent(sqlError(Object.assign(new Error("write EPIPE"), { code: "EPIPE" })))).toBe(true)
    expect(wasNotSent(sqlError(new Error("Client has encountered a connection error and is not queryable")))).toBe(true)
    expect(wasNotSent(sqlError(new Error("Can't add new command when connection is in closed state")))).toBe(true)
  })

  it("a connection that was never handed over (an untrusted certificate, say) carried no statement", () => {
    const untrusted = Object.assign(new Error("self-signed certificate in certificate chain"), {
      code: "SELF_SIGNED_CERT_IN_CHAIN"
    })
    expect(wasNotSent(new SqlError({ message: "Failed to acquire a connection to primary", cause: untrusted })))
      .toBe(true)
    expect(wasNotSent(sqlError(untrusted))).toBe(false)
  })

  it("a reset while reading the answer, or a connection ended mid-statement, may have been applied", () => {
    expect(wasNotSent(sqlError(Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET", syscall: "read" }))))
      .toBe(false)
    expect(wasNotSent(sqlError(new Error("Connection terminated unexpectedly")))).toBe(false)
    expect(wasNotSent(sqlError(Object.assign(new Error("lost"), { code: "PROTOCOL_CONNECTION_LOST" })))).toBe(false)
  })
})
