/**
 * Read/write splitting on a MariaDB primary and two GTID replicas: routing, forced reads, transactions,
 * read-your-writes, and a replica that is down.
 *
 *   npm run cluster                      # in another terminal; copy its "# MariaDB" export line
 *   export FASTORM_WRITE_URL=mysql://... FASTORM_READ_URLS=mysql://...,mysql://...
 *   npm run example examples/mariadb-replicas.ts
 */
import { run } from "./replicasDemo.js"

run({
  label: "MariaDB",
  accepts: (url) => url.startsWith("mysql") || url.startsWith("mariadb"),
  portSql: "SELECT @@port AS port",
  columns:
    "id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(100) NOT NULL, email VARCHAR(190) NOT NULL UNIQUE, status VARCHAR(20) NOT NULL",
  replicaName: "maria-replica-1"
})
