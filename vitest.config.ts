import { defineConfig } from "vitest/config"
import { onConsoleLog } from "./vitest.shared.js"

// Each package is its own Vitest project; the global setup starts real PostgreSQL and MariaDB clusters once for
// every project (see test-support).
export default defineConfig({
  test: {
    projects: ["packages/*", "test-support", "bench"],
    globalSetup: ["./test-support/src/vitestGlobalSetup.ts"],
    reporters: ["default"],
    // Every package's integration tests share one PostgreSQL and one MariaDB cluster, and fault tests stop, freeze
    // and lag its replicas: files run one at a time so no test sees another's fault.
    fileParallelism: false,
    onConsoleLog
  }
})
