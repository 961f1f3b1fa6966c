/**
 * Clusters private to one test file, started before its tests and removed after them: for tests that change a
 * cluster for good (a promotion).
 */
import { afterAll, beforeAll } from "@effect/vitest"
import { type ClusterInfo, type ClusterNodes, startClusters, stopClusters } from "@fastorm/test-support"

/** The two server dialects of the clusters. */
export type Dialect = "postgres" | "mariadb"

/** Registers the file's hooks; the returned function gives a dialect's cluster once they ran. */
export const privateClusters = (): (dialect: Dialect) => ClusterNodes => {
  let info: ClusterInfo | undefined
  beforeAll(async () => {
    info = await startClusters()
  }, 120_000)
  afterAll(async () => {
    if (info !== undefined) await stopClusters(info)
  }, 60_000)
  return (dialect) => {
    if (info === undefined) throw new Error("the private clusters did not start")
    return dialect === "postgres" ? info.postgres : info.mariadb
  }
}
