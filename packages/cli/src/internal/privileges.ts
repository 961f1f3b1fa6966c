/**
 * Privileges FastORM's features need beyond reading and writing the application's tables, checked on a live node,
 * with the grant that fixes each one missing (README, "Operating FastORM").
 */
import type { DatabaseAdapter } from "@fastorm/adapters"
import * as Effect from "effect/Effect"

/** A privilege the user lacks, what it costs, and the statement that grants it. */
export interface Missing {
  readonly privilege: string
  readonly neededFor: string
  readonly grant: string
}

const codeOf = (error: unknown): unknown => {
  let current: unknown = error
  for (let i = 0; i < 5 && typeof current === "object" && current !== null; i++) {
    const code = (current as { errno?: unknown; code?: unknown }).errno ?? (current as { code?: unknown }).code
    if (code !== undefined) return code
    current = (current as { cause?: unknown }).cause
  }
  return undefined
}

/** MySQL's ER_SPECIFIC_ACCESS_DENIED_ERROR (1227) and ER_ACCESS_DENIED_ERROR (1045/1044) refuse `SHOW ... STATUS`. */
const isDenied = (error: unknown) => {
  const code = codeOf(error)
  return code === 1227 || code === "ER_SPECIFIC_ACCESS_DENIED_ERROR" || code === 1044 || code === 1045
}

/**
 * MariaDB / MySQL replicas report their lag only to SLAVE MONITOR (MariaDB 10.5+) or REPLICATION CLIENT (MySQL):
 * without it the monitor sees the replica replicating, with its lag unknown.
 */
export const check = (
  client: DatabaseAdapter.NodeClient,
  dialect: string,
  role: "primary" | "replica",
  user: string | undefined,
  isMariaDb: boolean
): Effect.Effect<ReadonlyArray<Missing>> => {
  if (dialect !== "mysql" || role !== "replica") return Effect.succeed([])
  const privilege = isMariaDb ? "SLAVE MONITOR" : "REPLICATION CLIENT"
  return client.unsafe(isMariaDb ? "SHOW SLAVE STATUS" : "SHOW REPLICA STATUS").pipe(
    Effect.as([] as ReadonlyArray<Missing>),
    Effect.catchAll((error) =>
      Effect.succeed(
        isDenied(error)
          ? [{
            privilege,
            neededFor: "replication lag figures (max lag, session reads' choice of replica)",
            grant: `GRANT ${privilege} ON *.* TO '${user ?? "<user>"}'@'%'`
          }]
          : []
      )
    )
  )
}
