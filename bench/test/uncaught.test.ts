/**
 * The line a bench process prints for an error nobody handled: the message, then where it was thrown, with each path
 * cut to its package, so a run's log says whose it was.
 */
import { describe, expect, it } from "@effect/vitest"
import { describeUncaught } from "../src/uncaught.js"

const thrownIn = (stack: string): Error =>
  Object.assign(new TypeError("Cannot read properties of undefined"), { stack })

describe("describeUncaught", () => {
  it("names the first three frames, paths cut to the package", () => {
    const error = thrownIn([
      "TypeError: Cannot read properties of undefined",
      "    at Object.destroy (/work/x/node_modules/sequelize/lib/dialects/abstract/connection-manager.js:118:41)",
      "    at Client.<anonymous> (/work/x/node_modules/sequelize/lib/dialects/postgres/connection-manager.js:161:17)",
      "    at Client.emit (node:events:524:28)",
      "    at Socket.onError (/work/x/node_modules/pg/lib/client.js:1:1)"
    ].join("\n"))
    expect(describeUncaught(error)).toBe(
      "Cannot read properties of undefined (at Object.destroy (sequelize/lib/dialects/abstract/connection-manager.js:118:41)" +
        " < Client.<anonymous> (sequelize/lib/dialects/postgres/connection-manager.js:161:17)" +
        " < Client.emit (node:events:524:28))"
    )
  })

  it("cuts a path in the repository's packages too", () => {
    const error = thrownIn("Error: x\n    at run (/home/ci/fastorm/packages/adapters/dist/internal/pgBatches.js:10:5)")
    expect(describeUncaught(error)).toContain("(at run (adapters/dist/internal/pgBatches.js:10:5))")
  })

  it("gives the message alone for a value with no stack", () => {
    expect(describeUncaught("socket hang up")).toBe("socket hang up")
    expect(describeUncaught(Object.assign(new Error("no frames"), { stack: "Error: no frames" }))).toBe("no frames")
  })
})
