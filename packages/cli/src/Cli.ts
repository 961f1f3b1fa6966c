/**
 * The `fastorm` command (README, "Operating FastORM"), built with @effect/cli:
 * - `fastorm doctor <url>...`: each node checked the way FastORM uses it;
 * - `fastorm status --write <url> [--read <url>]...`: the cluster's health, refreshed live (`--once` for one table);
 * - `--json` on both, for scripts. Exit codes: 0 all well (ready), 1 a node has a problem (not ready), 2 bad input.
 * No output ever carries a password: URLs are shown by their identity (`postgresql://host:port/db`).
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Doctor from "./internal/doctor.js"
import * as Status from "./internal/status.js"

/** The exit codes scripts can rely on. */
export const ExitCode = { ok: 0, problem: 1, badInput: 2 } as const

/** Reports of `fastorm doctor`, one per URL. */
export type DoctorReport = Doctor.NodeReport

/** The nodes and thresholds of `fastorm status`. */
export type StatusOptions = Status.StatusOptions

/** A report of `fastorm status`. */
export type StatusReport = Status.StatusReport

/** Checks every URL (concurrently), and the exit code they make. */
export const doctor = (
  urls: ReadonlyArray<string>,
  timeout: Duration.DurationInput = "5 seconds"
): Effect.Effect<{ readonly reports: ReadonlyArray<DoctorReport>; readonly exitCode: number }> =>
  Effect.map(
    Effect.forEach(urls, (url, i) => Doctor.check(url, timeout, i), { concurrency: "unbounded" }),
    (reports) => ({
      reports,
      exitCode: reports.some((r) => r.verdict === "invalid")
        ? ExitCode.badInput
        : reports.every((r) => r.verdict === "ok")
        ? ExitCode.ok
        : ExitCode.problem
    })
  )

/** Starts watching a cluster (for the scope) and returns its first status and a way to read it again. */
export const status = Status.start

/** Renders doctor reports for a terminal. */
export const renderDoctor: (report: DoctorReport) => string = Doctor.render

/** Renders a status report as a table. */
export const renderStatus: (report: StatusReport) => string = Status.render

const setExitCode = (code: number) => Effect.sync(() => void (process.exitCode = code))

const json = Options.boolean("json").pipe(Options.withDescription("Print JSON instead of text"))
const timeout = Options.integer("timeout").pipe(
  Options.withDefault(5),
  Options.withDescription("Bound on each step, in seconds")
)

const doctorCommand = Command.make(
  "doctor",
  {
    urls: Args.text({ name: "url" }).pipe(Args.atLeast(1), Args.withDescription("Database URLs to check")),
    json,
    timeout
  },
  (args) =>
    Effect.gen(function*() {
      const { exitCode, reports } = yield* doctor(args.urls, Duration.seconds(args.timeout))
      yield* Console.log(args.json ? JSON.stringify(reports, null, 2) : reports.map(Doctor.render).join("\n\n"))
      yield* setExitCode(exitCode)
    })
).pipe(Command.withDescription("Check database URLs: connection, version, features, settings, role, lag, privileges"))

const statusCommand = Command.make(
  "status",
  {
    write: Options.text("write").pipe(Options.withDescription("The primary's URL")),
    read: Options.text("read").pipe(Options.repeated, Options.withDescription("A replica's URL (repeatable)")),
    json,
    once: Options.boolean("once").pipe(Options.withDescription("Print once and exit (implied by --json)")),
    interval: Options.integer("interval").pipe(
      Options.withDefault(2),
      Options.withDescription("Seconds between probes and refreshes")
    ),
    timeout
  },
  (args) =>
    Effect.scoped(Effect.gen(function*() {
      const started = yield* Effect.either(Status.start({
        write: args.write,
        read: args.read,
        interval: Duration.seconds(args.interval),
        timeout: Duration.seconds(args.timeout)
      }))
      if (started._tag === "Left") {
        yield* Console.error(started.left.message)
        return yield* setExitCode(ExitCode.badInput)
      }
      const { current, first } = started.right
      if (args.json || args.once) {
        yield* Console.log(args.json ? JSON.stringify(first, null, 2) : Status.render(first))
        return yield* setExitCode(first.ready ? ExitCode.ok : ExitCode.problem)
      }
      // Live: the table redrawn every interval until interrupted (Ctrl-C); the exit code is the last readiness.
      const clear = process.stdout.isTTY ? "\x1b[2J\x1b[H" : ""
      let report = first
      for (;;) {
        yield* Console.log(`${clear}${Status.render(report)}`)
        yield* setExitCode(report.ready ? ExitCode.ok : ExitCode.problem)
        yield* Effect.sleep(Duration.seconds(args.interval))
        report = yield* current
      }
    }))
).pipe(Command.withDescription("Show the health of a cluster's nodes, refreshed live"))

/** The `fastorm` command and its subcommands. */
export const command = Command.make("fastorm").pipe(Command.withSubcommands([doctorCommand, statusCommand]))

/** Runs the command on `argv` (as `process.argv`: the first two entries are node and the script). */
export const run = Command.run(command, { name: "fastorm", version: "0.1.0" })
