/** The configuration's shape, checked before anything else: what the types rule out, from JavaScript or JSON. */
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import { FastOrm } from "../src/index.js"
import { shapeProblems } from "../src/internal/nodes.js"

const OPTIONS = "(options: name, write, read, nodes, readWrite, health, pool, failover)"

describe("the configuration's shape", () => {
  const table: ReadonlyArray<readonly [string, unknown, ReadonlyArray<string>]> = [
    ["write and read", { write: "sqlite://:memory:", read: ["sqlite:///a.db"], pool: {} }, []],
    ["nodes", { nodes: ["postgres://h/a", "postgres://h2/a"], failover: { mode: "off", adminUrl: "x" } }, []],
    ["keys given as undefined", { write: "sqlite://:memory:", nodes: undefined, health: undefined }, []],
    ["a misspelt key", { write: "sqlite://:memory:", reads: ["sqlite:///a.db"] }, [
      `unknown option "reads" ${OPTIONS}`
    ]],
    ["a key that could hide a secret", { write: "sqlite://:memory:", "pw=S3cret x": 1 }, [
      "an option with an unexpected name (not shown)"
    ]],
    ["no node", {}, ["no node is given: give write (and read), or nodes"]],
    ["read without write", { read: "sqlite:///a.db" }, ["read needs write"]],
    ["both forms", { write: "postgres://h/a", nodes: ["postgres://h/a"] }, [
      "give write (and read) or nodes, not both"
    ]],
    ["not an object", "postgres://h/a", ["the configuration must be an object"]]
  ]
  for (const [name, config, expected] of table) {
    it(name, () => {
      expect(shapeProblems(config)).toEqual(expected)
    })
  }

  it.scopedLive("the monitor's nodes and cluster are the layer's own: given in health, InvalidHealthConfig", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(
        Layer.build(FastOrm.layer({ write: "sqlite://:memory:", health: { cluster: "x", intervall: 1 } as any }))
      )
      const failure = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : undefined
      expect(failure?._tag === "Some" ? failure.value._tag : "").toBe("InvalidHealthConfig")
      expect(failure?._tag === "Some" && "problems" in failure.value ? failure.value.problems : []).toEqual([
        "cluster is the layer's own (write / read / nodes, name), not a health option",
        "unknown option \"intervall\" (options: interval, timeout, degradedAfter, unhealthyAfter, failureThreshold, " +
        "recoveryThreshold, backoffBase, backoffCap, authBackoffBase, authBackoffCap, smoothing, maxLag, applicationName, " +
        "probe)"
      ])
    }))

  it.scopedLive("the layer fails with InvalidCluster, never a defect, before anything connects", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(Layer.build(FastOrm.layer({} as any)))
      expect(Exit.isFailure(exit) && Cause.isFailType(exit.cause)).toBe(true)
      const failure = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : undefined
      expect(failure?._tag === "Some" ? failure.value.message : "").toBe(
        "Invalid cluster: no node is given: give write (and read), or nodes"
      )
    }))
})
