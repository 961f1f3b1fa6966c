/**
 * A Patroni cluster for the tests that follow a promoted primary: three PostgreSQL 15 nodes managed by Patroni on one
 * etcd, started by the test file that needs it (`start` in beforeAll, `stop` in afterAll), never by the global setup.
 * The controls work on the servers themselves: Patroni's REST API, `patronictl`, signals and SQL.
 */
import type { PatroniCluster } from "./types.js"

export { ensurePatroniBinaries } from "./binaries.js"
export { patroniTimings } from "./config.js"
export {
  kill,
  killLeader,
  type LeaderChange,
  restart,
  type RestartOptions,
  switchover,
  type SwitchoverOptions,
  timeline
} from "./controls.js"
export { leader, members } from "./members.js"
export { postmasterOptions, startStandalone } from "./standalone.js"
export { start, type StartPatroniOptions, stop } from "./start.js"
export type { PatroniCluster, PatroniMember, PatroniNode, PatroniTimings } from "./types.js"
export { waitHealthy, type WaitHealthyOptions, waitWritableLeader, type WaitWritableOptions } from "./waits.js"

/** Each node's own URL as the app user, for `FastOrm.layer({ nodes })`: no role fixed, the servers tell. */
export const urls = (cluster: PatroniCluster): Array<string> => cluster.nodes.map((n) => n.url)
