import { readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { waitUntilAsync } from "../wait.js"
import { binaries } from "./binaries.js"
import { APP_PASSWORD, APP_USER, CERT_USER, DATABASE, REPL_PASSWORD, REPL_USER } from "./constants.js"
import { makeOwnedDirs, nodeDirOf } from "./layout.js"
import { isAlive, livePid, pidFileOf, processesIn, signal, waitGone } from "./pids.js"
import { isRoot, run, spawnDetached } from "./proc.js"
import { mariaAdminQuery } from "./sql.js"
import type { TlsFiles } from "./tls.js"
import type { ClusterNodes, NodeInfo } from "./types.js"

/** Where a node's mariadbd command line is kept, so another process can start it again identically. */
const argsFileOf = (node: NodeInfo): string => join(nodeDirOf(node), "mariadbd.args.json")

/** Command line of a node: --no-defaults so /etc/mysql is never read, small memory, no durability. */
const serverArgs = (node: NodeInfo, serverId: number, tls: TlsFiles): Array<string> => [
  "--no-defaults",
  ...(isRoot() ? ["--user=mysql"] : []),
  `--datadir=${node.dataDir}`,
  `--port=${node.port}`,
  "--bind-address=127.0.0.1",
  `--socket=${node.socket}`,
  `--pid-file=${pidFileOf(node)}`,
  `--log-error=${node.logFile}`,
  `--tmpdir=${nodeDirOf(node)}`,
  `--server-id=${serverId}`,
  "--skip-name-resolve",
  "--character-set-server=utf8mb4",
  "--collation-server=utf8mb4_general_ci",
  "--innodb-buffer-pool-size=16M",
  "--innodb-log-file-size=8M",
  // 2: the redo log is written to the OS at every commit (flushed to disk once a second), so a crash of the server
  // process (kill -9) loses no acknowledged commit; 0 lost up to a second of them, and the replicas, which had them
  // from the binlog, then stopped on duplicate keys.
  "--innodb-flush-log-at-trx-commit=2",
  "--sync-binlog=0",
  "--performance-schema=OFF",
  "--key-buffer-size=1M",
  "--max-connections=300",
  // TLS offered, never required: plaintext clients (every other suite, the bench) see no change.
  `--ssl-ca=${tls.ca}`,
  `--ssl-cert=${tls.serverCert}`,
  `--ssl-key=${tls.serverKey.mariadb}`,
  // Faster detection of a dead or frozen primary by the replicas (heartbeat is half of it).
  "--slave-net-timeout=10",
  // Every node logs what it applies, as MaxScale's failover requires: a promoted replica's binlog then holds the
  // transactions the other replica re-points into (MASTER_USE_GTID = slave_pos).
  `--log-bin=${join(node.dataDir, "mariadb-bin")}`,
  "--binlog-format=ROW",
  "--log-slave-updates=ON",
  `--relay-log=${join(node.dataDir, "relay-bin")}`,
  ...(node.role === "primary" ? [] : ["--read-only=1"])
]

/** System tables of every node: created once by mariadb-install-db, then copied, so all nodes start identical. */
const initSql = `
FLUSH PRIVILEGES;
CREATE DATABASE ${DATABASE} CHARACTER SET utf8mb4;
CREATE DATABASE fastorm_cluster;
CREATE TABLE fastorm_cluster.marker (id VARCHAR(64) PRIMARY KEY, at TIMESTAMP(6) DEFAULT CURRENT_TIMESTAMP(6)) ENGINE=InnoDB;
CREATE USER '${APP_USER}'@'127.0.0.1' IDENTIFIED BY '${APP_PASSWORD}';
CREATE USER '${APP_USER}'@'%' IDENTIFIED BY '${APP_PASSWORD}';
GRANT ALL ON ${DATABASE}.* TO '${APP_USER}'@'127.0.0.1';
GRANT ALL ON ${DATABASE}.* TO '${APP_USER}'@'%';
CREATE USER '${REPL_USER}'@'127.0.0.1' IDENTIFIED BY '${REPL_PASSWORD}';
GRANT REPLICATION SLAVE ON *.* TO '${REPL_USER}'@'127.0.0.1';
CREATE USER '${CERT_USER}'@'127.0.0.1' REQUIRE X509;
GRANT SELECT ON ${DATABASE}.* TO '${CERT_USER}'@'127.0.0.1';
`

/** Starts one mariadbd from its saved command line, waits until it accepts connections, returns its pid. */
export const startMariaServer = async (node: NodeInfo, timeoutMs: number): Promise<number> => {
  const args = JSON.parse(readFileSync(argsFileOf(node), "utf8")) as Array<string>
  const pid = spawnDetached(binaries().mariadbd, args, {
    outFile: join(nodeDirOf(node), "mariadbd.out"),
    cwd: nodeDirOf(node)
  })
  await waitUntilAsync(
    async () => {
      // Fail fast with the log instead of waiting out the bound when the server died on start.
      if (!isAlive(pid)) throw new Error(`mariadbd exited during start-up`)
      await mariaAdminQuery(node, "SELECT 1")
      return true
    },
    (up) => up,
    { what: `${node.name} to accept connections`, timeoutMs, intervalMs: 50, logFile: node.logFile }
  )
  return pid
}

/** Stops a mariadbd: SIGTERM (or SIGKILL when `kill`), SIGKILL after the bound; resumes it first if frozen. */
export const stopMariaServer = async (node: NodeInfo, timeoutMs: number, kill = false): Promise<void> => {
  const pid = livePid(node)
  const all = processesIn(nodeDirOf(node))
  for (const p of all) signal(p, "SIGCONT")
  if (pid !== undefined) signal(pid, kill ? "SIGKILL" : "SIGTERM")
  const left = await waitGone(pid === undefined ? all : [pid, ...all], timeoutMs)
  for (const p of left) signal(p, "SIGKILL")
  const stuck = await waitGone(left, 5_000)
  if (stuck.length > 0) throw new Error(`${node.name}: processes ${stuck.join(", ")} survived SIGKILL`)
}

/** Points a replica at the primary with GTID and starts both replication threads. */
export const startReplication = async (replica: NodeInfo, primary: NodeInfo): Promise<void> => {
  await mariaAdminQuery(
    replica,
    `CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=${primary.port}, MASTER_USER='${REPL_USER}', ` +
      `MASTER_PASSWORD='${REPL_PASSWORD}', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1, MASTER_SSL=0`
  )
  await mariaAdminQuery(replica, "START SLAVE")
}

/** Waits until both replication threads of a MariaDB replica run. */
export const waitMariaReplicating = (node: NodeInfo, timeoutMs: number): Promise<number> =>
  waitUntilAsync(
    async () => {
      const row = (await mariaAdminQuery<Record<string, unknown>>(node, "SHOW SLAVE STATUS"))[0]
      // The threads' last errors go into the timeout message (a position the source's binlog lacks, for one).
      return {
        io: row?.Slave_IO_Running,
        sql: row?.Slave_SQL_Running,
        ioError: row?.Last_IO_Error,
        sqlError: row?.Last_SQL_Error
      }
    },
    (threads) => threads.io === "Yes" && threads.sql === "Yes",
    { what: `${node.name} to replicate (IO and SQL threads running)`, timeoutMs, intervalMs: 50, logFile: node.logFile }
  )

/** Creates and starts a MariaDB primary and its GTID replicas; returns them with their pids. */
export const createMariaCluster = async (
  nodes: ReadonlyArray<NodeInfo>,
  timeoutMs: number,
  tls: TlsFiles
): Promise<ClusterNodes> => {
  const [primary, ...replicas] = nodes as [NodeInfo, ...Array<NodeInfo>]
  const clusterDir = join(nodeDirOf(primary), "..")
  makeOwnedDirs("mysql", [clusterDir, ...nodes.map(nodeDirOf)])
  // Holds passwords: readable by us only, deleted right after use.
  const initFile = join(clusterDir, "init.sql")
  writeFileSync(initFile, initSql, { mode: 0o600 })
  try {
    // Seen once under heavy load: the bootstrap failed with "Unknown table 'mysql.tmp_user_sys'". It is not
    // reproducible, so a failed bootstrap gets one more try on an emptied data directory before it counts.
    for (let attempt = 1;; attempt++) {
      try {
        await run(
          binaries().installDb,
          [
            "--no-defaults",
            ...(isRoot() ? ["--user=mysql"] : []),
            `--datadir=${primary.dataDir}`,
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            "--skip-name-resolve",
            `--extra-file=${initFile}`,
            "--innodb-buffer-pool-size=16M",
            "--innodb-log-file-size=8M"
          ],
          { what: `mariadb-install-db of ${primary.name}`, timeoutMs, cwd: clusterDir }
        )
        break
      } catch (error) {
        if (attempt >= 2) throw error
        rmSync(primary.dataDir, { recursive: true, force: true })
        makeOwnedDirs("mysql", [primary.dataDir])
      }
    }
  } finally {
    rmSync(initFile, { force: true })
  }
  // Copying the fresh data dir is faster than three install-db runs; GTID replication starts from an empty position.
  await Promise.all(replicas.map((replica) =>
    run("cp", ["-a", primary.dataDir, replica.dataDir], {
      what: `copy of the data dir for ${replica.name}`,
      timeoutMs,
      cwd: clusterDir
    })
  ))
  nodes.forEach((node, i) => writeFileSync(argsFileOf(node), JSON.stringify(serverArgs(node, i + 1, tls))))
  const [primaryPid, ...replicaPids] = await Promise.all(nodes.map((node) => startMariaServer(node, timeoutMs)))
  await Promise.all(replicas.map((replica) => startReplication(replica, primary)))
  return {
    primary: { ...primary, pid: primaryPid! },
    replicas: replicas.map((replica, i) => ({ ...replica, pid: replicaPids[i]! }))
  }
}
