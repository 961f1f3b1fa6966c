/** The router service, its layer and its statistics. */
export * as ConnectionRouter from "./ConnectionRouter.js"

/** `FastOrm.layer`, `FastOrm.layerConfig`, `FastOrm.config` (the environment), `FastOrmLive`, session tokens. */
export * as FastOrm from "./FastOrm.js"

/** `FastOrmTest.layer`: a scripted mock cluster for users' tests, routed by the real router. */
export * as FastOrmTest from "./FastOrmTest.js"

/** The router's configuration. */
export * as ReadWriteConfig from "./ReadWriteConfig.js"

/** The router's typed errors. */
export * as RouterError from "./RouterError.js"

/** Session tokens for read-your-writes. */
export * as SessionToken from "./SessionToken.js"

export { FastOrmLive } from "./FastOrm.js"
export { FallbackCapacityExceeded, NoHealthyReplica, PrimaryUnavailable, WriteOutcomeUnknown } from "./RouterError.js"
