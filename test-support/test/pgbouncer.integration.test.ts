/**
 * The test cluster's PgBouncers: one in front of each PostgreSQL node, in transaction pooling with PgBouncer's stock
 * `ignore_startup_parameters`, so they behave as the README's "Behind a connection pooler" describes.
 */
import pg from "pg"
import { describe, expect, it } from "vitest"
import { loadCluster, throughPgBouncer } from "../src/index.js"

const info = loadCluster()

/** A fresh pg connection through a pooler, closed after `f`. */
const through = async <A>(url: string, f: (client: pg.Client) => Promise<A>, extra: pg.ClientConfig = {}) => {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000, ...extra })
  client.on("error", () => undefined)
  try {
    await client.connect()
    return await f(client)
  } finally {
    await client.end().catch(() => undefined)
  }
}

describe("PgBouncer in front of each PostgreSQL node", () => {
  it("reaches the node it stands for, as the app user, whose URL throughPgBouncer gives", async () => {
    const nodes = throughPgBouncer(info.postgres, info.pgbouncer)
    for (const node of [nodes.primary, ...nodes.replicas]) {
      const pooler = [info.pgbouncer.primary, ...info.pgbouncer.replicas].find((p) => p.backend === node.name)!
      expect(node.url).toBe(pooler.url)
      const [row] = await through(
        node.url,
        async (c) => (await c.query("SELECT inet_server_port() AS port, pg_is_in_recovery() AS replica")).rows
      )
      expect(row).toEqual({ port: node.port, replica: node.role === "replica" })
    }
  })

  it("pools transactions: the session settings of one transaction are gone in the next", async () => {
    const url = info.pgbouncer.primary.url
    await through(url, async (c) => {
      await c.query("BEGIN")
      await c.query("SET LOCAL statement_timeout = 1234")
      expect((await c.query("SHOW statement_timeout")).rows[0].statement_timeout).toBe("1234ms")
      await c.query("COMMIT")
    })
    expect(await through(url, async (c) => (await c.query("SHOW statement_timeout")).rows[0].statement_timeout))
      .toBe("0")
  })

  it("refuses a startup parameter it does not know, as stock PgBouncer does", async () => {
    const refused = await through(info.pgbouncer.primary.url, () => Promise.resolve("connected"), {
      statement_timeout: 1000
    }).catch((e: { code?: string; message?: string }) => `${e.code}: ${e.message}`)
    expect(refused).toBe("08P01: unsupported startup parameter: statement_timeout")
  })
})
