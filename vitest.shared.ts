import type { ViteUserConfig } from "vitest/config"

/** Settings every package's Vitest project shares. */
export const shared: ViteUserConfig = {
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    fakeTimers: { toFake: undefined },
    sequence: { concurrent: false },
    // Every package's integration tests share one PostgreSQL and one MariaDB cluster, and fault tests stop, freeze
    // and lag its replicas: files run one at a time so no test sees another's fault.
    fileParallelism: false
  }
}
