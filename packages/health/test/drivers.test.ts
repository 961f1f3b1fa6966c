import { describe, expect, it } from "@effect/vitest"
import { AdapterError } from "@fastorm/adapters"
import * as Effect from "effect/Effect"
import { orMissingDriver } from "../src/internal/drivers.js"

describe("a node whose driver is not installed", () => {
  it.scoped("gets a probe that fails with the install command, so its health says why", () =>
    Effect.gen(function*() {
      const missing = new AdapterError.DriverNotInstalled({ driver: "mysql2", install: "npm install mysql2@3" })
      const probe = yield* orMissingDriver("replica-1")(Effect.fail(missing))
      const error = yield* Effect.flip(probe.run)
      expect(error.node).toBe("replica-1")
      expect(error.message).toContain("npm install mysql2@3")
    }))
})
