/**
 * Per-operation costs of a few targets on one workload, one after the other (not interleaved: a probe, not the
 * benchmark): client CPU, the whole machine's busy CPU (client and servers, /proc/stat), socket writes (calls to
 * `Socket.write`, `_write`, `_writev`) and, with `HEAPSAMPLE=1`, bytes allocated (V8's sampling heap profiler, collected
 * objects included; written to /tmp/heap-<workload>-<target>.json; `HEAPSAMPLE=promoted`: only the objects that outlived
 * a young-generation collection, those promoted to the old generation) or, with `CPUPROFILE=1`, a CPU profile of the
 * second round (/tmp/cpu-<workload>-<target>.cpuprofile). `ROUNDS` (default 2): how many times each target runs.
 * `delete` deletes the rows an `insert` earlier in `WORKLOADS` added (as in the bench), so it needs one.
 *
 *   FASTORM_CLUSTER_FILE=... DB=postgres TARGETS=fastorm,drizzle WORKLOADS=update CALLERS=16 N=20000 \
 *     node bench/build/src/probes/opProbe.js
 */
import { writeFileSync } from "node:fs"
import * as inspector from "node:inspector"
import * as net from "node:net"
import { Recorder } from "../harness.js"
import { machineBusyUs } from "../machineCpu.js"
import { seed } from "../seed.js"
import { dialectOf } from "../targetBase.js"
import type { TargetName } from "../targets.js"
import { makeTarget, TARGET_NAMES } from "../targets.js"
import type { Workload } from "../workloads.js"
import { startDeletesAt } from "../workloads.js"
import { probeNodes } from "./probeNodes.js"

const { db, nodes } = probeNodes()
let writes = 0
let writevs = 0
const origWrite = net.Socket.prototype.write
net.Socket.prototype.write = function(this: any, ...args: Array<any>) {
  writes++
  return (origWrite as any).apply(this, args)
} as any
const proto: any = net.Socket.prototype
const origWritev = proto._writev
proto._writev = function(this: any, ...args: Array<any>) {
  writevs++
  return origWritev.apply(this, args)
}
const origW = proto._write
let lowWrites = 0
proto._write = function(this: any, ...args: Array<any>) {
  lowWrites++
  return origW.apply(this, args)
}
// "promoted": leave out what young-generation collections freed; what stays is what the old generation must collect.
const heapPromoted = process.env["HEAPSAMPLE"] === "promoted"
const heapSample = process.env["HEAPSAMPLE"] === "1" || heapPromoted
const cpuProfile = process.env["CPUPROFILE"] === "1"
const session = heapSample || cpuProfile ? new inspector.Session() : undefined
session?.connect()
const post = (method: string, params?: object) =>
  new Promise((resolve, reject) =>
    session!.post(method, params as any, (err: any, res: any) => err ? reject(err) : resolve(res))
  )
const targets = (process.env["TARGETS"] ?? "fastorm,raw-driver,drizzle").split(",") as Array<TargetName>
// An unknown name would otherwise be taken for an ablation target, which runs point reads only.
for (const t of targets) {
  if (!TARGET_NAMES.includes(t)) throw new Error(`TARGETS: unknown "${t}"; known: ${TARGET_NAMES.join(", ")}`)
}
const workloads = (process.env["WORKLOADS"] ?? "transaction,update,insert").split(",") as Array<Workload>
const n = Number(process.env["N"] ?? 2000)
const callers = Number(process.env["CALLERS"] ?? 1)
const rounds = Number(process.env["ROUNDS"] ?? 2)
// The seeded table's rows, as in the bench.
const ROWS = 10_000
// Deletes take the ids the inserts added, as in the bench: without an insert before them they would delete seeded
// rows, which the other workloads of the probe read and update.
const deleteAt = workloads.indexOf("delete")
if (deleteAt >= 0 && !workloads.slice(0, deleteAt).includes("insert")) {
  throw new Error("WORKLOADS: \"delete\" deletes the rows \"insert\" added: put insert before it (same N and ROUNDS)")
}
await seed(dialectOf(db), nodes, ROWS, workloads.includes("stream"))
startDeletesAt(ROWS + 1)
const built = []
for (const t of targets) built.push(await makeTarget(t, db, nodes, ROWS))
for (const w of workloads) {
  // A target without the workload (an ablation target has no lists) is left out of it, as the bench leaves it out.
  const running = built.filter((t) => t.driver.supports(w))
  const missing = built.filter((t) => !t.driver.supports(w)).map((t) => t.name)
  if (missing.length > 0) console.log(`${w.padEnd(12)} not run by ${missing.join(", ")}`)
  for (let round = 0; round < rounds; round++) {
    for (const target of running) {
      await target.driver.run(w, callers, { count: 300 }, new Recorder())
      writes = 0
      writevs = 0
      lowWrites = 0
      const rec = new Recorder()
      if (cpuProfile && round === 1) {
        await post("Profiler.enable")
        await post("Profiler.setSamplingInterval", { interval: 100 })
        await post("Profiler.start")
      }
      if (heapSample && round === 1) {
        await post("HeapProfiler.enable")
        await post("HeapProfiler.startSampling", {
          samplingInterval: 1024,
          includeObjectsCollectedByMajorGC: true,
          includeObjectsCollectedByMinorGC: !heapPromoted
        })
      }
      const c0 = process.cpuUsage()
      const m0 = machineBusyUs()
      const t0 = performance.now()
      await target.driver.run(w, callers, { count: n }, rec)
      const ms = performance.now() - t0
      const c = process.cpuUsage(c0)
      const machine = (machineBusyUs() - m0) / n
      if (cpuProfile && round === 1) {
        const r: any = await post("Profiler.stop")
        writeFileSync(`/tmp/cpu-${w}-${target.name}.cpuprofile`, JSON.stringify(r.profile))
      }
      if (heapSample && round === 1) {
        const r: any = await post("HeapProfiler.stopSampling")
        writeFileSync(`/tmp/heap-${w}-${target.name}.json`, JSON.stringify({ ...r.profile, ops: n }))
      }
      console.log(
        `${w.padEnd(12)} ${target.name.padEnd(11)} ok=${rec.ok} fail=${rec.failed} ${
          (n / ms * 1000).toFixed(0)
        } q/s cpu/op=${((c.user + c.system) / n).toFixed(0)}µs machine/op=${machine.toFixed(0)}µs (sys ${
          (c.system / n).toFixed(0)
        }) socket.write/op=${(writes / n).toFixed(2)} _write/op=${(lowWrites / n).toFixed(2)} _writev/op=${
          (writevs / n).toFixed(2)
        }`
      )
    }
  }
}
for (const t of built) await t.close()
process.exit(0)
