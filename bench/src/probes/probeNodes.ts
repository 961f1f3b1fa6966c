/**
 * The cluster nodes a probe runs against, from `DB`: the shared cluster's PostgreSQL, its PgBouncers, or MariaDB.
 * The shared cluster's PgBouncers keep 4 server connections per database (the tests' setting), the bench's own 16:
 * with 16 callers a probe through them measures a queue for server connections that the bench does not have.
 */
import type { ClusterNodes } from "@fastorm/test-support"
import { loadCluster, throughPgBouncer } from "@fastorm/test-support"

/** The databases a probe knows. */
export type ProbeDb = "postgres" | "mariadb" | "pgbouncer"

/** `DB` (default postgres) and its nodes; any other value is refused, never taken for another database. */
export const probeNodes = (): { readonly db: ProbeDb; readonly nodes: ClusterNodes } => {
  const db = process.env["DB"] ?? "postgres"
  if (db !== "postgres" && db !== "mariadb" && db !== "pgbouncer") {
    throw new Error(`DB=${db}: the probe knows postgres, mariadb and pgbouncer (the shared cluster's PgBouncers)`)
  }
  const cluster = loadCluster()
  const nodes = db === "mariadb"
    ? cluster.mariadb
    : db === "pgbouncer"
    ? throughPgBouncer(cluster.postgres, cluster.pgbouncer)
    : cluster.postgres
  return { db, nodes }
}
