import { describe, expect, it } from "vitest"
import { Patroni } from "../src/index.js"

describe("Patroni.patroniTimings", () => {
  it.each([
    [4, { ttl: 4, loopWait: 1, retryTimeout: 1 }],
    [6, { ttl: 6, loopWait: 1, retryTimeout: 2 }],
    [10, { ttl: 10, loopWait: 1, retryTimeout: 4 }],
    [30, { ttl: 30, loopWait: 3, retryTimeout: 13 }]
  ])("ttl %i gives %o", (ttl, timings) => {
    expect(Patroni.patroniTimings(ttl)).toEqual(timings)
  })

  it("keeps Patroni's rule loop_wait + 2 * retry_timeout <= ttl, with at least a second for each", () => {
    for (let ttl = 4; ttl <= 120; ttl++) {
      const { loopWait, retryTimeout } = Patroni.patroniTimings(ttl)
      expect(loopWait + 2 * retryTimeout).toBeLessThanOrEqual(ttl)
      expect(Math.min(loopWait, retryTimeout)).toBeGreaterThanOrEqual(1)
    }
  })

  it.each([[3], [0], [-10], [10.5], [Number.NaN]])("refuses ttl %d", (ttl) => {
    expect(() => Patroni.patroniTimings(ttl)).toThrow(/ttl must be a whole number of seconds >= 4/)
  })
})

describe("Patroni.postmasterOptions", () => {
  it("reads the arguments of the last start, without the program", () => {
    const opts = `/usr/lib/postgresql/15/bin/postgres "-D" "/dev/shm/p/patroni-1/data" ` +
      `"--config-file=/dev/shm/p/patroni-1/data/postgresql.conf" "--listen_addresses=127.0.0.1" "--port=40123" ` +
      `"--cluster_name=fastorm" "--wal_level=replica" "--hot_standby=on"\n`
    expect(Patroni.postmasterOptions(opts)).toEqual([
      "-D",
      "/dev/shm/p/patroni-1/data",
      "--config-file=/dev/shm/p/patroni-1/data/postgresql.conf",
      "--listen_addresses=127.0.0.1",
      "--port=40123",
      "--cluster_name=fastorm",
      "--wal_level=replica",
      "--hot_standby=on"
    ])
  })
})
