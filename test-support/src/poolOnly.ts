/**
 * A node configuration whose statements all take its pool's connections: PostgreSQL's pipelined connections off
 * (`pipelinedConnections: 0`), for tests of the pool itself (one session per connection, its queue, its lifetimes,
 * an interrupted statement's connection closed). MariaDB has no such setting and refuses the key.
 */
import type { ClusterKind } from "./cluster/types.js"

/** `{ pipelinedConnections: 0 }` on PostgreSQL, nothing on MariaDB. */
export const poolOnly = (kind: ClusterKind): { readonly pipelinedConnections?: 0 } =>
  kind === "postgres" ? { pipelinedConnections: 0 } : {}
