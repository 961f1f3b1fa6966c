#!/usr/bin/env node
/** The `fastorm` executable: `Cli.run` on the process's arguments, on Node. */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import { run } from "./Cli.js"

run(process.argv).pipe(
  Effect.provide(NodeContext.layer),
  // The monitor's log lines would interleave with the tables: what they say is in the output already.
  Logger.withMinimumLogLevel(LogLevel.None),
  // Usage errors are printed by @effect/cli; they exit 2 like any bad input.
  Effect.catchAll(() => Effect.sync(() => void (process.exitCode = 2))),
  NodeRuntime.runMain({ disableErrorReporting: true })
)
