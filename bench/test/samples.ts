/** Made-up rounds for the report's table tests: one second, every query ok, the given throughput and client CPU. */
import type { Sample } from "../src/harness.js"

/** One round of `throughput` queries at `cpuUsPerQuery` µs of client CPU each; `extra` adds the optional figures. */
export const sample = (throughput: number, cpuUsPerQuery = 100, extra: Partial<Sample> = {}): Sample => ({
  queries: throughput,
  failed: 0,
  seconds: 1,
  throughput,
  p50Ms: 1,
  p99Ms: 2,
  cpuUsPerQuery,
  sysUsPerQuery: 0,
  ...extra
})
