/** The router's session-wait debug lines in captured logs (`Log.debug`, reason "session"), as their annotations. */
import type { captureLogs } from "@fastorm/test-support"

/** The session-wait lines of `logs`, each as its annotations (node, caughtUp, carried, waitedMs). */
export const waitLines = (logs: ReturnType<typeof captureLogs>): ReadonlyArray<Record<string, unknown>> =>
  logs.lines.flatMap((l) =>
    l.annotations.component === "router" && l.annotations.reason === "session"
      ? [l.annotations as Record<string, unknown>]
      : []
  )
