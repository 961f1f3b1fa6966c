/**
 * MariaDB reports the GTID a statement's commit was given in the statement's own OK packet when the session tracks
 * the `last_gtid` variable (session state tracking; mysql2 asks for it with CLIENT_SESSION_TRACK and parses it into
 * `stateChanges.systemVariables`). A write's position is then known when the write returns, without another
 * statement (ARCHITECTURE.md, "Read-your-writes").
 */

/**
 * Adds `last_gtid` to the session's tracked variables, keeping the ones already tracked (mysql2 follows
 * `character_set_client` through them). MariaDB only; it may fail (an old server): then no GTID is ever reported.
 */
export const TRACK_LAST_GTID =
  "SET SESSION session_track_system_variables = CONCAT_WS(',', NULLIF(@@session_track_system_variables, ''), 'last_gtid')"

const single = /^\d+-\d+-\d+$/

/**
 * The GTID a statement's commit was given, from its mysql2 result: only an OK packet that reports `last_gtid`
 * (rows, an OK packet without it, or anything malformed: undefined). MariaDB reports the variable only when it
 * changed, that is when the statement committed a transaction into the binary log.
 */
export const committedGtid = (results: unknown): string | undefined => {
  if (results === null || typeof results !== "object" || Array.isArray(results)) return undefined
  const gtid = (results as { readonly stateChanges?: { readonly systemVariables?: Record<string, unknown> } })
    .stateChanges?.systemVariables?.last_gtid
  return typeof gtid === "string" && single.test(gtid) ? gtid : undefined
}
