/**
 * Read/write splitting on a PostgreSQL primary and two streaming replicas: routing, forced reads, transactions,
 * read-your-writes, and a replica that is down.
 *
 *   npm run cluster                      # in another terminal; copy its "# PostgreSQL" export line
 *   export FASTORM_WRITE_URL=postgres://... FASTORM_READ_URLS=postgres://...,postgres://...
 *   npm run example examples/postgres-replicas.ts
 */
import { run } from "./replicasDemo.js"

run({
  label: "PostgreSQL",
  accepts: (url) => url.startsWith("postgres"),
  portSql: "SELECT inet_server_port() AS port",
  columns: "id SERIAL PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL UNIQUE, status TEXT NOT NULL",
  replicaName: "pg-replica-1"
})
