// Loads vitest's own types into this project: without a test file importing "vitest", the augmentation has no module.
import type {} from "vitest"
import type { TestProject } from "vitest/node"
import { CLUSTER_FILE_ENV } from "./cluster/constants.js"
import { startClusters, stopClusters } from "./cluster/start.js"
import type { ClusterInfo } from "./cluster/types.js"

declare module "vitest" {
  /** What `inject("fastormCluster")` returns in tests. */
  export interface ProvidedContext {
    fastormCluster: ClusterInfo
  }
}

// Vitest may call a global setup once per project: the clusters are started once per process and stopped when the
// last caller's teardown runs.
let started: Promise<ClusterInfo> | undefined
let users = 0

/** Vitest global setup: starts both test clusters unless FASTORM_TEST_CLUSTER=off; returns the teardown. */
export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  if (process.env.FASTORM_TEST_CLUSTER === "off") return undefined
  users += 1
  started ??= startClusters({ log: (line) => console.log(line) })
  const info = await started
  // Test workers are forked after the global setup and inherit this.
  process.env[CLUSTER_FILE_ENV] = info.file
  project.provide("fastormCluster", info)
  return async () => {
    users -= 1
    if (users > 0) return
    started = undefined
    delete process.env[CLUSTER_FILE_ENV]
    await stopClusters(info)
  }
}
