/**
 * A pipelined connection's lost socket, as its statements' failures say it: pg hands every statement in flight the
 * socket's one error, so a write's EPIPE on a lane is the last written statement's own, and must not read as "never
 * sent" for a statement written before it, which may have run (`pgLane.ts` `sharedLoss`). No server: the lane's pg
 * client is a fake that fails its queries as pg does.
 */
import { describe, expect, it } from "@effect/vitest"
import type Pg from "pg"
import { OpenLane, sharedLoss } from "../src/internal/pgLane.js"

const withCode = (message: string, fields: Record<string, unknown>) => Object.assign(new Error(message), fields)

const epipe = withCode("write EPIPE", { code: "EPIPE", syscall: "write", errno: -32 })
const resetOnWrite = withCode("write ECONNRESET", { code: "ECONNRESET", syscall: "write" })

type Lost = Error & { code?: unknown; syscall?: unknown; socketError?: unknown }

describe("sharedLoss", () => {
  it.each([
    ["a write's EPIPE", epipe, "EPIPE"],
    ["a reset met by a write", resetOnWrite, "ECONNRESET"]
  ])("%s, for a statement written before the last: a lost connection that may have run", (_, error, named) => {
    const lost = sharedLoss(error, true) as Lost
    expect(lost).not.toBe(error)
    expect([lost.code, lost.syscall, lost.cause, lost.socketError]).toEqual(["ECONNRESET", undefined, undefined, error])
    expect(lost.message).toContain(named)
    expect(lost.message).toContain("may have run")
  })

  it("a write's EPIPE for the statement written last is its own: it stays, never sent", () => {
    expect(sharedLoss(epipe, false)).toBe(epipe)
  })

  it.each([
    ["a reset while reading", withCode("read ECONNRESET", { code: "ECONNRESET", syscall: "read" })],
    ["a connection ended", new Error("Connection terminated unexpectedly")],
    [
      "pg's refusal on a broken connection (never sent)",
      new Error("Client has encountered a connection error and is not queryable")
    ],
    ["a server's own answer", withCode("terminating connection due to administrator command", { code: "57P01" })]
  ])("%s stays as it is", (_, error) => {
    expect(sharedLoss(error, true)).toBe(error)
  })
})

/** A pg client that keeps each query's callback, and fails them all with one error, in order, as pg does. */
const fakeClient = () => {
  const callbacks: Array<(error: Error | null, result: unknown) => void> = []
  const client = {
    query: (_query: unknown, callback: (error: Error | null, result: unknown) => void) => callbacks.push(callback)
  }
  return {
    client: client as unknown as Pg.Client,
    failAll: (error: Error) => {
      for (const callback of callbacks.splice(0)) callback(error, undefined)
    }
  }
}

/** The errors the lane's statements get when its socket fails with `error` after `statements` were written. */
const errorsOf = (statements: number, error: Error) => {
  const { client, failAll } = fakeClient()
  const lane = new OpenLane(client, 0, () => {})
  const errors: Array<unknown> = []
  for (let i = 0; i < statements; i++) {
    lane.query({ text: `INSERT INTO t VALUES (${i})` }, (e) => errors.push(e))
  }
  failAll(error)
  return errors
}

describe("statements on a lost lane", () => {
  it("the ones written before the last get a lost connection; the last keeps the socket's EPIPE", () => {
    const [first, second, last] = errorsOf(3, epipe) as [Lost, Lost, Lost]
    expect([first.code, second.code, last]).toEqual(["ECONNRESET", "ECONNRESET", epipe])
  })

  it("a statement alone on its lane keeps its EPIPE: it never left", () => {
    expect(errorsOf(1, epipe)).toEqual([epipe])
  })
})
