import { accessSync, constants } from "node:fs"
import { join } from "node:path"
import { PG_BIN } from "./constants.js"
import { isRoot, run } from "./proc.js"

/** Absolute paths of the server programs the clusters need. */
export interface Binaries {
  readonly mariadbd: string
  readonly installDb: string
  /** The connection pooler put in front of the PostgreSQL nodes. */
  readonly pgbouncer: string
}

const executable = (path: string): boolean => {
  try {
    accessSync(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}

/** Finds a program on PATH and in the sbin dirs (mariadbd lives in /usr/sbin, often not on a user's PATH). */
export const which = (name: string): string | undefined => {
  const dirs = [...(process.env.PATH ?? "").split(":"), "/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"]
  return dirs.filter((d) => d !== "").map((d) => join(d, name)).find(executable)
}

const PG_TOOLS = ["initdb", "pg_ctl", "pg_basebackup", "postgres"]

const missing = (): Array<string> => [
  ...PG_TOOLS.filter((t) => !executable(join(PG_BIN, t))).map((t) => join(PG_BIN, t)),
  ...["mariadbd", "mariadb-install-db", "pgbouncer"].filter((t) => which(t) === undefined)
]

/** The Debian packages that provide the programs. */
const PACKAGES = ["postgresql-15", "mariadb-server", "pgbouncer"]

let resolved: Binaries | undefined

/** The MariaDB program paths; `ensureBinaries` must have succeeded in this process or they are looked up now. */
export const binaries = (): Binaries => {
  if (resolved === undefined) {
    const mariadbd = which("mariadbd")
    const installDb = which("mariadb-install-db")
    const pgbouncer = which("pgbouncer")
    if (mariadbd === undefined || installDb === undefined) {
      throw new Error("mariadbd / mariadb-install-db not found: install the package mariadb-server")
    }
    if (pgbouncer === undefined) throw new Error("pgbouncer not found: install the package pgbouncer")
    resolved = { mariadbd, installDb, pgbouncer }
  }
  return resolved
}

/** Checks the programs (servers, PgBouncer) exist; as root installs missing ones with apt-get, else names them. */
export const ensureBinaries = async (log: (line: string) => void): Promise<Binaries> => {
  let absent = missing()
  if (absent.length > 0 && isRoot()) {
    log(`test cluster: installing ${PACKAGES.join(" ")} (missing: ${absent.join(", ")})`)
    await run("apt-get", ["update"], { what: "apt-get update", timeoutMs: 300_000 })
    await run("env", ["DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", ...PACKAGES], {
      what: `apt-get install ${PACKAGES.join(" ")}`,
      timeoutMs: 600_000
    })
    absent = missing()
  }
  if (absent.length > 0) {
    throw new Error(
      `Test cluster programs missing (${absent.join(", ")}): install the packages ${PACKAGES.join(", ")}`
    )
  }
  return binaries()
}
