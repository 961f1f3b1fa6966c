import { which } from "../cluster/binaries.js"
import { isRoot, run } from "../cluster/proc.js"

/** Absolute paths of the programs a Patroni cluster needs (PostgreSQL 15 itself comes with the other clusters). */
export interface PatroniBinaries {
  readonly patroni: string
  readonly patronictl: string
  readonly etcd: string
}

/** The Debian packages that provide them. */
const PACKAGES = ["patroni", "etcd-server"]

const lookup = () => ({ patroni: which("patroni"), patronictl: which("patronictl"), etcd: which("etcd") })

const absent = (found: ReturnType<typeof lookup>): Array<string> =>
  Object.entries(found).flatMap(([name, path]) => path === undefined ? [name] : [])

let resolved: PatroniBinaries | undefined

/** Finds patroni, patronictl and etcd; as root installs the missing ones with apt-get, else fails naming the packages. */
export const ensurePatroniBinaries = async (log: (line: string) => void): Promise<PatroniBinaries> => {
  if (resolved !== undefined) return resolved
  let found = lookup()
  if (absent(found).length > 0 && isRoot()) {
    log(`patroni cluster: installing ${PACKAGES.join(" ")} (missing: ${absent(found).join(", ")})`)
    await run("apt-get", ["update"], { what: "apt-get update", timeoutMs: 300_000 })
    await run("env", [
      "DEBIAN_FRONTEND=noninteractive",
      "apt-get",
      "install",
      "-y",
      "--no-install-recommends",
      ...PACKAGES
    ], {
      what: `apt-get install ${PACKAGES.join(" ")}`,
      timeoutMs: 600_000
    })
    found = lookup()
  }
  const { etcd, patroni, patronictl } = found
  if (patroni === undefined || patronictl === undefined || etcd === undefined) {
    throw new Error(
      `Patroni cluster programs missing (${absent(found).join(", ")}): install the packages ${PACKAGES.join(", ")}`
    )
  }
  resolved = { patroni, patronictl, etcd }
  return resolved
}
