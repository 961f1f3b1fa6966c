import { chownSync, mkdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { APP_PASSWORD, APP_USER, DATABASE } from "./constants.js"
import { isRoot, type ServiceUser } from "./proc.js"
import type { ClusterKind, NodeInfo, NodeRole } from "./types.js"

/** Node names per kind: index 0 is the primary, then replica-1, replica-2, ... */
export const nodeName = (kind: ClusterKind, index: number): string => {
  const prefix = kind === "postgres" ? "pg" : "maria"
  return index === 0 ? `${prefix}-primary` : `${prefix}-replica-${index}`
}

/** The per-node directory: holds the data dir, the log, the socket and start arguments. */
export const nodeDirOf = (node: NodeInfo): string => join(node.dataDir, "..")

/** Builds the NodeInfo of a node from where it lives and its port (pid filled in once started). */
export const describeNode = (root: string, kind: ClusterKind, index: number, port: number): NodeInfo => {
  const name = nodeName(kind, index)
  const role: NodeRole = index === 0 ? "primary" : "replica"
  const dir = join(root, kind === "postgres" ? "pg" : "maria", name)
  const app = `${APP_USER}:${encodeURIComponent(APP_PASSWORD)}`
  return kind === "postgres"
    ? {
      name,
      kind,
      role,
      host: "127.0.0.1",
      port,
      database: DATABASE,
      url: `postgres://${app}@127.0.0.1:${port}/${DATABASE}`,
      adminUrl: `postgres://postgres@127.0.0.1:${port}/${DATABASE}`,
      dataDir: join(dir, "data"),
      socket: dir,
      pid: 0,
      logFile: join(dir, "postgres.log")
    }
    : {
      name,
      kind,
      role,
      host: "127.0.0.1",
      port,
      database: DATABASE,
      url: `mysql://${app}@127.0.0.1:${port}/${DATABASE}`,
      adminUrl: `mysql://root@127.0.0.1:${port}/${DATABASE}`,
      dataDir: join(dir, "data"),
      socket: join(dir, "mariadb.sock"),
      pid: 0,
      logFile: join(dir, "mariadb.log")
    }
}

/** Creates directories that the service user must own when we are root (servers run as that user). */
export const makeOwnedDirs = (user: ServiceUser, dirs: ReadonlyArray<string>): void => {
  for (const dir of dirs) {
    mkdirSync(dir, { recursive: true, mode: 0o755 })
    if (isRoot()) {
      chownSync(dir, idOf(user, 2), idOf(user, 3))
    }
  }
}

/** Gives a file or directory to a service user (servers run as that user when we are root). */
export const chownToServiceUser = (path: string, user: ServiceUser): void =>
  chownSync(path, idOf(user, 2), idOf(user, 3))

/** uid (field 2) or gid (field 3) of an OS user, read from /etc/passwd to avoid a native dependency. */
const idOf = (user: string, field: 2 | 3): number => {
  const line = readFileSync("/etc/passwd", "utf8").split("\n").find((l) => l.split(":")[0] === user)
  if (line === undefined) throw new Error(`OS user "${user}" does not exist (is its server package installed?)`)
  return Number(line.split(":")[field])
}
