/**
 * `pinned`: how an eager load keeps its reads on one node. The first read placed on replicas names the node; later
 * reads try it first; a node the decision no longer offers is not forced; other routes are left as they are.
 */
import { describe, expect, it } from "@effect/vitest"
import type { ReadPinShape } from "@fastorm/core"
import type { Route } from "../src/internal/decision.js"
import { pinned, selectionFor } from "../src/internal/pin.js"
import type { Candidate } from "../src/internal/selection.js"
import * as Selection from "../src/internal/selection.js"

const candidate = (name: string, index: number): Candidate => ({
  index,
  name,
  weight: 1,
  latencyMs: undefined,
  outstanding: 0
})
const r1 = candidate("replica-1", 0)
const r2 = candidate("replica-2", 1)
const r3 = candidate("replica-3", 2)

const replicas = (...order: Array<Candidate>): Route => ({
  _tag: "Replicas",
  reason: "ordinary",
  order,
  primary: "primary"
})
const names = (route: Route) => route._tag === "Replicas" ? route.order.map((c) => c.name) : route._tag

describe("pinned", () => {
  it.each(
    [
      // [pin before, route, order after, pin after]
      [undefined, replicas(r2, r1), ["replica-2", "replica-1"], undefined],
      [{ node: undefined }, replicas(r2, r1), ["replica-2", "replica-1"], "replica-2"],
      [{ node: "replica-1" }, replicas(r2, r1), ["replica-1", "replica-2"], "replica-1"],
      [{ node: "replica-1" }, replicas(r2, r3, r1), ["replica-1", "replica-2", "replica-3"], "replica-1"],
      [{ node: "replica-1" }, replicas(r1, r2), ["replica-1", "replica-2"], "replica-1"],
      // The pinned node is not offered (down, or behind the session): the decision's order stands.
      [{ node: "replica-1" }, replicas(r2, r3), ["replica-2", "replica-3"], "replica-1"],
      [{ node: undefined }, replicas(), [], undefined],
      // The load's first read went to the primary: the rest follows it there.
      [{ node: "primary" }, replicas(r2, r1), "Primary", "primary"]
    ] as const
  )("pin %j, %j", (before, route, order, after) => {
    const pin: ReadPinShape | undefined = before === undefined ? undefined : { ...before }
    expect(names(pinned(pin, route))).toEqual(order)
    expect(pin?.node).toBe(after)
  })

  it("a read that waits for the session's writes names its replica; a read on the primary names the primary", () => {
    const pin: ReadPinShape = { node: undefined }
    const wait: Route = {
      _tag: "Wait",
      replica: r2,
      token: { kind: "lsn", value: "0/10" },
      primary: "primary",
      otherwise: { _tag: "Fallback", node: "primary" }
    }
    expect(pinned(pin, wait)).toBe(wait)
    expect(pin.node).toBe("replica-2")
    const others: ReadonlyArray<Route> = [
      { _tag: "Transaction" },
      { _tag: "Primary", node: "primary", reason: "forceWrite", write: false },
      { _tag: "Fallback", node: "primary" },
      { _tag: "Refuse" }
    ]
    for (const route of others) expect(pinned(pin, route)).toBe(route)
    expect(pin.node).toBe("replica-2")

    const onPrimary: ReadPinShape = { node: undefined }
    // A write names nothing.
    pinned(onPrimary, { _tag: "Primary", node: "primary", reason: "write", write: true })
    expect(onPrimary.node).toBe(undefined)
    pinned(onPrimary, { _tag: "Primary", node: "primary", reason: "session", write: false })
    expect(onPrimary.node).toBe("primary")
    expect(pinned(onPrimary, wait)).toEqual({ _tag: "Primary", node: "primary", reason: "session", write: false })
    const fallback: ReadPinShape = { node: undefined }
    pinned(fallback, { _tag: "Fallback", node: "primary" })
    expect(fallback.node).toBe("primary")
  })

  it("a load's later reads leave round-robin as it was: consecutive loads start on alternate replicas", () => {
    const state = Selection.makeState(2)
    const firsts: Array<string> = []
    for (let load = 0; load < 4; load++) {
      const pin: ReadPinShape = { node: undefined }
      // Two reads per load (users, then posts): each decides with the strategies' state, as the router does.
      for (let read = 0; read < 2; read++) {
        const order = Selection.order("roundRobin", [r1, r2], selectionFor(pin, state))
        pinned(pin, replicas(...order))
      }
      firsts.push(pin.node!)
    }
    expect(firsts).toEqual(["replica-1", "replica-2", "replica-1", "replica-2"])
    expect(state.cursor).toBe(4)
    // Without a pin the state itself is used.
    expect(selectionFor(undefined, state)).toBe(state)
  })
})
