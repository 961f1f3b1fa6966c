import { SqlError } from "@effect/sql/SqlError"
import { describe, expect, it } from "@effect/vitest"
import { isConnectionClass, wasNotSent } from "../src/internal/failures.js"

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

  it("a pipelined connection lost under a write: connection-class, and may have been applied", () => {
    // The adapters' lanes give every statement in flight this shape for the socket's EPIPE (`pgLane.ts`
    // `sharedLoss`): the EPIPE may be a later statement's write, after this one ran and committed.
    const epipe = Object.assign(new Error("write EPIPE"), { code: "EPIPE", syscall: "write" })
    const lost = sqlError(
      Object.assign(new Error("pipelined connection lost (EPIPE); the statement may have run"), {
        code: "ECONNRESET",
        socketError: epipe
      })
    )
    expect([wasNotSent(lost), isConnectionClass(lost)]).toEqual([false, true])
  })

  it("a pooler's own refusal never reached a server; a server connection the pooler lost under it may have", () => {
    const pooler = (message: string) =>
      sqlError(Object.assign(new Error(message), { code: "08P01", severity: "FATAL" }))
    for (
      const text of [
        "server login has been failing, try again later (server_login_retry)",
        "no more connections allowed (max_client_conn)",
        "query_wait_timeout"
      ]
    ) {
      expect(wasNotSent(pooler(text))).toBe(true)
    }
    expect(wasNotSent(pooler("server conn crashed?"))).toBe(false)
  })
})
