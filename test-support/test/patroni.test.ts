import { describe, expect, it } from "vitest"
import { Patroni } from "../src/index.js"
import { patroniConfig } from "../src/patroni/config.js"

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

describe("patroniConfig", () => {
  const node = {
    name: "patroni-2",
    pgPort: 40001,
    restPort: 40002,
    dataDir: "/x/patroni-2/data",
    nodeDir: "/x/patroni-2"
  }
  const layout = (synchronousMode: boolean) => ({
    scope: "fastorm",
    etcdPort: 40000,
    timings: Patroni.patroniTimings(10),
    synchronousMode
  })

  it.each([[false], [true]])("synchronous mode %s reaches the DCS settings with the timings", (synchronousMode) => {
    const config = patroniConfig(layout(synchronousMode), node) as any
    expect(config.bootstrap.dcs).toMatchObject({
      ttl: 10,
      loop_wait: 1,
      retry_timeout: 4,
      synchronous_mode: synchronousMode
    })
  })

  it("listens on the node's own ports and dirs, with pg_rewind on", () => {
    const config = patroniConfig(layout(false), node) as any
    expect(config.name).toBe("patroni-2")
    expect(config.restapi.listen).toBe("127.0.0.1:40002")
    expect(config.etcd3.hosts).toEqual(["127.0.0.1:40000"])
    expect(config.postgresql).toMatchObject({
      listen: "127.0.0.1:40001",
      data_dir: "/x/patroni-2/data",
      use_pg_rewind: true
    })
    expect(config.postgresql.parameters).toMatchObject({
      unix_socket_directories: "/x/patroni-2",
      full_page_writes: "on"
    })
  })
})
