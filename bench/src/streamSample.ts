/**
 * The stream workload's measurement (the approach of `npm run bench:stream`): one caller reads the whole stream
 * table once; the sample is rows per second, client CPU per row, and the memory the stream holds: the resident
 * memory's peak growth (sampled every 1000 rows) and the heap's, measured after a full collection at every tenth of
 * the rows when the worker runs with --expose-gc (the collections' time is left out of the rate and the CPU).
 */
import { performance } from "node:perf_hooks"
import type { Driver, Sample } from "./harness.js"
import { Recorder } from "./harness.js"
import { onStreamRow, STREAM_ROWS } from "./workloads.js"

const MB = 1024 * 1024

/** Streams every row of the stream table once through `driver`. */
export const measureStream = async (driver: Driver): Promise<Sample> => {
  const gc = (globalThis as { gc?: () => void }).gc
  gc?.()
  const before = process.memoryUsage()
  let rows = 0
  let rssPeak = before.rss
  let heapPeak = before.heapUsed
  let gcMs = 0
  let gcCpuUs = 0
  const tenth = Math.max(1, Math.floor(STREAM_ROWS / 10))
  onStreamRow(() => {
    rows++
    if (rows % 1000 === 0) rssPeak = Math.max(rssPeak, process.memoryUsage.rss())
    if (rows % tenth === 0) {
      const t = performance.now()
      const c = process.cpuUsage()
      gc?.()
      gcMs += performance.now() - t
      const spent = process.cpuUsage(c)
      gcCpuUs += spent.user + spent.system
      heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed)
    }
  })
  const recorder = new Recorder()
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  try {
    await driver.run("stream", 1, { count: 1 }, recorder)
  } finally {
    onStreamRow(() => undefined)
  }
  const ms = Math.max(1, performance.now() - t0 - gcMs)
  const cpu = process.cpuUsage(cpu0)
  rssPeak = Math.max(rssPeak, process.memoryUsage.rss())
  const complete = recorder.ok === 1 && rows === STREAM_ROWS
  const error = [...recorder.errors.keys()][0] ?? `streamed ${rows} of ${STREAM_ROWS} rows`
  return {
    queries: rows,
    failed: complete ? 0 : 1,
    seconds: ms / 1000,
    throughput: complete ? rows / (ms / 1000) : 0,
    p50Ms: ms,
    p99Ms: ms,
    cpuUsPerQuery: Math.max(0, cpu.user + cpu.system - gcCpuUs) / Math.max(1, rows),
    sysUsPerQuery: cpu.system / Math.max(1, rows),
    firstError: complete ? undefined : error,
    rssGrowthMB: (rssPeak - before.rss) / MB,
    heapGrowthMB: (heapPeak - before.heapUsed) / MB
  }
}
