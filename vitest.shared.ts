import { defaultClientConditions, defaultServerConditions } from "vite"
import type { ViteUserConfig } from "vitest/config"

// Workspace packages resolve to their TypeScript sources through the `@fastorm/source` export condition, so tests
// never run a stale or missing dist/ (README, "Scripts").
const source = "@fastorm/source"

// Tests run in Node, so dependencies resolve as Node resolves them: without the bundlers' "module" condition, which
// picks builds Node cannot load (@opentelemetry/api's ESM build imports files without their extension).
const node = (conditions: ReadonlyArray<string>) => conditions.filter((c) => c !== "module")

/** Settings every package's Vitest project shares. */
export const shared: ViteUserConfig = {
  resolve: { conditions: [source, ...node(defaultClientConditions)] },
  ssr: { resolve: { conditions: [source, ...node(defaultServerConditions)] } },
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    fakeTimers: { toFake: undefined },
    sequence: { concurrent: false }
  }
}

/** A line of Effect's default logger: `timestamp=... level=WARN fiber=#12 message=...`. */
const effectLogLine = /^timestamp=\S+ level=([A-Z]+) fiber=#\d+ /

/**
 * Drops the lines Effect's default logger prints below ERROR (health transitions, router warnings) unless
 * FASTORM_TEST_LOGS=1: the fault tests make hundreds of them. A test that asserts on logs installs its own Logger.
 */
export const onConsoleLog = (log: string): false | undefined => {
  if (process.env.FASTORM_TEST_LOGS === "1") return undefined
  const level = effectLogLine.exec(log)?.[1]
  return level !== undefined && level !== "ERROR" && level !== "FATAL" ? false : undefined
}
