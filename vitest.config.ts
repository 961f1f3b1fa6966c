import { defineConfig } from "vitest/config"

// The global setup starts real PostgreSQL and MariaDB clusters once for every project (see test-support).
export default defineConfig({
  test: {
    globalSetup: ["./test-support/src/vitestGlobalSetup.ts"],
    reporters: ["default"],
    fileParallelism: false
  }
})
