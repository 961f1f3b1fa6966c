/**
 * Effect runtime steps per operation of FastORM's workloads, counted by the runtime itself: with op supervision on,
 * the run loop tells a supervisor of every step it takes. Steps do not depend on the machine's load, so a change to a
 * hot path shows in them on a busy machine too (BENCHMARKS.md, "Each lever"). The count includes the harness's own
 * steps per operation, printed first as `floor` (an operation that does nothing).
 *
 *   FASTORM_CLUSTER_FILE=... DB=postgres WORKLOADS=point-read,read-write N=5000 [CONSISTENCY=eventual] \
 *     node bench/build/src/probes/stepsProbe.js
 */
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import type * as Option from "effect/Option"
import * as RuntimeFlags from "effect/RuntimeFlags"
import * as Supervisor from "effect/Supervisor"
import { fastOrmLayer, fastOrmOps, walkCursors } from "../fastOrmTargets.js"
import { effectDriver, Recorder } from "../harness.js"
import { seed } from "../seed.js"
import { dialectOf } from "../targetBase.js"
import type { Workload } from "../workloads.js"
import { startDeletesAt, WORKLOADS } from "../workloads.js"
import { probeNodes } from "./probeNodes.js"

/** Counts the run loop's steps in every fiber of the runtime it is added to. */
class StepCounter extends Supervisor.AbstractSupervisor<number> {
  steps = 0
  // Fibers started: each fork copies the parent's FiberRefs, a cost the steps alone do not show.
  forks = 0
  get value() {
    return Effect.sync(() => this.steps)
  }
  override onEffect<A, E>(_fiber: Fiber.RuntimeFiber<A, E>, _effect: Effect.Effect<any, any, any>): void {
    this.steps++
  }
  override onStart<A, E, R>(
    _context: Context.Context<R>,
    _effect: Effect.Effect<A, E, R>,
    _parent: Option.Option<Fiber.RuntimeFiber<any, any>>,
    _fiber: Fiber.RuntimeFiber<A, E>
  ): void {
    this.forks++
  }
}

const workloads = (process.env["WORKLOADS"] ?? "point-read,read-write,update").split(",") as Array<Workload>
for (const w of workloads) {
  if (!WORKLOADS.includes(w)) throw new Error(`WORKLOADS: unknown "${w}"; known: ${WORKLOADS.join(", ")}`)
}
const n = Number(process.env["N"] ?? 5000)
const callers = Number(process.env["CALLERS"] ?? 16)
// CONSISTENCY=eventual: FastORM without session positions, to tell what read-your-writes costs in steps.
const consistency = process.env["CONSISTENCY"] === "eventual" ? "eventual" : "session"
const rows = 10_000

const { db, nodes } = probeNodes()
await seed(dialectOf(db), nodes, rows, false)
// Deletes take the ids the inserts added (the bench's worker does the same).
startDeletesAt(rows + 1)

const counter = new StepCounter()
const runtime = ManagedRuntime.make(
  Layer.mergeAll(
    fastOrmLayer(nodes, nodes.replicas.length, consistency),
    Supervisor.addSupervisor(counter),
    RuntimeFlags.enableOpSupervision
  )
)
await runtime.runPromise(walkCursors(rows))
const driver = effectDriver(rows, runtime, fastOrmOps)
const floor = effectDriver(rows, runtime, { ...fastOrmOps, find: () => Effect.void })

const stepsPerOp = async (run: () => Promise<void>): Promise<string> => {
  const before = counter.steps
  const forksBefore = counter.forks
  await run()
  return `${((counter.steps - before) / n).toFixed(1)} forks/op ${((counter.forks - forksBefore) / n).toFixed(3)}`
}

// The floor: the harness's loop around an operation that does nothing (the point-read slot, emptied).
await floor.run("point-read", callers, { count: 500 }, new Recorder())
const floorSteps = await stepsPerOp(() => floor.run("point-read", callers, { count: n }, new Recorder()))
console.log(`${"floor".padEnd(16)} steps/op ${floorSteps}`)
for (const workload of workloads) {
  // Warmed up first: statements prepared, positions known, caches filled.
  await driver.run(workload, callers, { count: 500 }, new Recorder())
  const recorder = new Recorder()
  const steps = await stepsPerOp(() => driver.run(workload, callers, { count: n }, recorder))
  console.log(`${workload.padEnd(16)} steps/op ${steps}${recorder.failed > 0 ? ` (${recorder.failed} failed)` : ""}`)
}
await runtime.dispose()
process.exit(0)
