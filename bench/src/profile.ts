/**
 * Summarises a V8 `.cpuprofile` (from `node --cpu-prof`): self time by function and by area (Effect runtime, spans,
 * timeouts, routing, decoding, drivers...), and inclusive time of a few functions that name the levers.
 *
 *   tsx bench/src/profile.ts bench/profiles/postgres.cpuprofile
 */
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"

interface CallFrame {
  readonly functionName: string
  readonly url: string
  readonly lineNumber: number
}
interface ProfileNode {
  readonly id: number
  readonly callFrame: CallFrame
  readonly children?: ReadonlyArray<number>
}
interface CpuProfile {
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

const shortUrl = (url: string): string => {
  const nm = url.lastIndexOf("node_modules/")
  if (nm >= 0) return url.slice(nm + "node_modules/".length)
  const pk = url.search(/(packages|bench|test-support)\//)
  if (pk >= 0) return url.slice(pk)
  return url.replace(/^file:\/\//, "")
}

/** The area a function belongs to, by where its code lives (and, in Effect, which module). */
export const areaOf = (frame: CallFrame): string => {
  const u = frame.url
  const f = frame.functionName
  if (u === "") {
    if (f === "(garbage collector)") return "GC"
    if (f === "(idle)") return "idle"
    if (f === "(program)") return "V8/native (program)"
    if (/^(writev|writeBuffer|writeUtf8String|read|readv|close|connect|getaddrinfo)$/.test(f)) {
      return "syscalls: socket writes/reads (loopback TCP)"
    }
    return "native (other builtins)"
  }
  if (u.includes("/effect/dist/")) {
    if (/tracer|span/i.test(u) || /span/i.test(f)) return "Effect: tracing/spans"
    if (/schema|ParseResult|SchemaAST/i.test(u)) return "Effect Schema (decoding/encoding)"
    if (/metric/i.test(u)) return "Effect: metrics"
    if (/timeout|clock|schedul|Scheduler/i.test(u)) return "Effect: scheduler/clock/timeouts"
    if (/fiberRuntime|core-effect|core\.js|runtime|fiberRefs|fiberRef|context|Context|cause|Exit/i.test(u)) {
      return "Effect: fiber runtime/core"
    }
    return "Effect: other modules"
  }
  if (u.includes("@effect/sql/")) return "@effect/sql (statement, compiler, client)"
  if (u.includes("@effect/sql-pg/") || u.includes("@effect/sql-mysql2/")) return "@effect/sql-pg / sql-mysql2"
  if (/node_modules\/(pg|pg-protocol|pg-pool|pg-types|pgpass|postgres-)/.test(u)) return "pg driver"
  if (/node_modules\/(mysql2|lru|denque|long|iconv|named-placeholders|sqlstring|seq-queue)/.test(u)) {
    return "mysql2 driver"
  }
  if (u.includes("packages/replication/")) return "FastORM routing (packages/replication)"
  if (u.includes("packages/health/")) return "FastORM health monitor"
  if (u.includes("packages/core/")) return "FastORM repository (packages/core)"
  if (u.includes("packages/adapters/")) return "FastORM adapters (node clients)"
  if (u.includes("/bench/")) return "bench harness"
  if (u.startsWith("node:")) return "Node.js internals (net, streams, timers)"
  if (u.includes("node_modules/")) return `other: ${shortUrl(u).split("/")[0]}`
  return "other"
}

const ms = (us: number) => (us / 1000).toFixed(0)

/** Markdown summary of a profile. */
export const summariseProfile = (file: string, top = 25): string => {
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const self = new Map<number, number>()
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0))
  }
  let total = 0
  let idle = 0
  for (const [id, t] of self) {
    total += t
    if (byId.get(id)!.callFrame.functionName === "(idle)") idle += t
  }
  const busy = total - idle
  const keyOf = (f: CallFrame) => `${f.functionName || "(anonymous)"} ${shortUrl(f.url)}:${f.lineNumber + 1}`
  const selfByFn = new Map<string, number>()
  const selfByArea = new Map<string, number>()
  for (const [id, t] of self) {
    const frame = byId.get(id)!.callFrame
    if (frame.functionName === "(idle)") continue
    selfByFn.set(keyOf(frame), (selfByFn.get(keyOf(frame)) ?? 0) + t)
    selfByArea.set(areaOf(frame), (selfByArea.get(areaOf(frame)) ?? 0) + t)
  }
  // Inclusive time of chosen functions (recursion counted once).
  const watched: ReadonlyArray<readonly [label: string, test: (f: CallFrame) => boolean]> = [
    ["Effect.withSpan / makeSpan (spans)", (f) => /makeSpan|useSpan|withSpan|unsafeMakeSpan/.test(f.functionName)],
    [
      "Schema decode (Repository decodeRows)",
      (f) => /decodeRows|decodeUnknown/.test(f.functionName) && f.url.includes("packages/core")
    ],
    ["timeout (Effect.timeout*)", (f) => /timeout/i.test(f.functionName) && f.url.includes("/effect/")],
    ["Metric.increment / metric hooks", (f) => f.url.includes("/effect/") && /metric/i.test(f.url)],
    ["FastORM routing (any replication fn)", (f) => f.url.includes("packages/replication/")],
    ["pg driver", (f) => /node_modules\/pg(-protocol|-pool)?\//.test(f.url)],
    ["mysql2 driver", (f) => f.url.includes("node_modules/mysql2/")]
  ]
  const inclusive = new Map<string, number>()
  const totalOf = new Map<number, number>()
  const subtotal = (id: number): number => {
    const cached = totalOf.get(id)
    if (cached !== undefined) return cached
    const n = byId.get(id)!
    let t = self.get(id) ?? 0
    for (const c of n.children ?? []) t += subtotal(c)
    totalOf.set(id, t)
    return t
  }
  const root = profile.nodes[0]!
  const walk = (id: number, active: ReadonlySet<string>) => {
    const n = byId.get(id)!
    let next = active
    for (const [label, test] of watched) {
      if (!active.has(label) && test(n.callFrame)) {
        inclusive.set(label, (inclusive.get(label) ?? 0) + subtotal(id))
        if (next === active) next = new Set(active)
        ;(next as Set<string>).add(label)
      }
    }
    for (const c of n.children ?? []) walk(c, next)
  }
  walk(root.id, new Set())

  const pct = (t: number) => `${((100 * t) / busy).toFixed(1)}%`
  const lines = [
    `Busy (non-idle) CPU in the profile: ${ms(busy)} ms of ${ms(total)} ms sampled.`,
    "",
    "| area (self time) | ms | share of busy |",
    "|---|--:|--:|"
  ]
  for (const [area, t] of [...selfByArea].sort((a, b) => b[1] - a[1]).slice(0, 16)) {
    lines.push(`| ${area} | ${ms(t)} | ${pct(t)} |`)
  }
  lines.push("", "| function (self time) | ms | share of busy |", "|---|--:|--:|")
  for (const [fn, t] of [...selfByFn].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    lines.push(`| \`${fn.replace(/\|/g, "/")}\` | ${ms(t)} | ${pct(t)} |`)
  }
  lines.push("", "| inclusive time under | ms | share of busy |", "|---|--:|--:|")
  for (const [label] of watched) {
    const t = inclusive.get(label) ?? 0
    lines.push(`| ${label} | ${ms(t)} | ${pct(t)} |`)
  }
  return lines.join("\n")
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const file of process.argv.slice(2)) process.stdout.write(`${summariseProfile(file)}\n`)
}
