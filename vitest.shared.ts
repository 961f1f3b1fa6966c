import { defaultClientConditions, defaultServerConditions } from "vite"
import type { ViteUserConfig } from "vitest/config"

// Workspace packages resolve to their TypeScript sources through the `@fastorm/source` export condition, so tests
// never run a stale or missing dist/ (README, "Working on FastORM").
const source = "@fastorm/source"

/** Settings every package's Vitest project shares. */
export const shared: ViteUserConfig = {
  resolve: { conditions: [source, ...defaultClientConditions] },
  ssr: { resolve: { conditions: [source, ...defaultServerConditions] } },
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
