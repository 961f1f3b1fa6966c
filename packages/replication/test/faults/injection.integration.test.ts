/**
 * Identifier and value injection through the repository (issue 6), on PostgreSQL and MariaDB through
 * `FastOrm.layer`: hostile column names and object values are refused with typed errors before any SQL is built,
 * nothing reaches a node (the router routed no statement), and the table is unchanged (row count, checksum, and it
 * still exists).
 */
import { describe, expect, it } from "@effect/vitest"
import { Model, Repository } from "@fastorm/core"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { ConnectionRouter } from "../../src/index.js"
import type { Backend } from "./support.js"
import {
  backends,
  ensureTable,
  expectSessionsBack,
  KV_TABLE,
  ormLayer,
  primaryQuery,
  runId,
  sessionBaseline
} from "./support.js"

class Kv extends Model.Class<Kv>("Kv")({
  id: Model.Generated(Schema.Int),
  k: Schema.String,
  v: Schema.String
}) {}

const KvRepo = Repository.make(Kv, { table: KV_TABLE, idColumn: "id" })

/** Names a caller could pass where a column is expected. */
const hostileColumns: ReadonlyArray<string> = [
  `x" OR 1=1 --`,
  "a`b",
  "id; DROP TABLE t",
  `${"c".repeat(70)}`,
  "k) OR (1=1",
  "k' OR '1'='1",
  "__proto__",
  "k -- ",
  ""
]

/** Values that are not primitives, Dates, Buffers or bigints (the knex CVE-2016-20018 class). */
const hostileValues: ReadonlyArray<readonly [string, unknown]> = [
  ["plain object", { k: "x" }],
  ["object with toString", { toString: () => "1 OR 1=1" }],
  ["object with toSqlString", { toSqlString: () => "1 OR 1=1" }],
  ["array", ["a", "b"]],
  ["nested array", [["a"]]],
  ["function", () => "x"],
  ["symbol", Symbol("x")]
]

const tableState = (b: Backend) =>
  Effect.promise(async () => {
    const rows = await primaryQuery<{ n: unknown; s: unknown }>(
      b,
      b.name === "postgres"
        ? `SELECT count(*)::text AS n, coalesce(sum(length(v) + id), 0)::text AS s FROM ${KV_TABLE}`
        : `SELECT count(*) AS n, coalesce(sum(length(v) + id), 0) AS s FROM ${KV_TABLE}`
    )
    return `${String(rows[0]!.n)}/${String(rows[0]!.s)}`
  })

const routedTotal = Effect.map(
  Effect.flatMap(ConnectionRouter.ConnectionRouter, (r) => r.stats),
  (s) => Object.values(s.byNode).reduce((a, n) => a + n, 0)
)

const tagOf = (e: unknown): string => String((e as { _tag?: unknown })._tag ?? (e as Error).constructor?.name)

for (const b of backends) {
  describe(`injection on ${b.name}`, () => {
    it.scopedLive(
      "hostile column names and object values: typed errors, nothing sent, table unchanged",
      () =>
        Effect.gen(function*() {
          yield* Effect.promise(() => ensureTable(b))
          const baseline = yield* Effect.promise(() => sessionBaseline(b))
          const key = runId("inj")
          const results = yield* Effect.gen(function*() {
            // A known row, written and read through the repository, proves the repository works on this table.
            const row = yield* KvRepo.create({ k: key, v: "safe" })
            expect(Either.isRight(yield* Effect.either(KvRepo.find(row.id, { forceWrite: true })))).toBe(true)
            const before = yield* tableState(b)
            const routedBefore = yield* routedTotal
            const any = KvRepo as any
            const attempts: Array<readonly [string, Effect.Effect<unknown, unknown, any>]> = []
            for (const column of hostileColumns) {
              const c = JSON.stringify(column).slice(0, 24)
              attempts.push(
                [`where(${c})`, any.where(column, "x").get()],
                [`where(${c}, op)`, any.where(column, "=", "x").first()],
                [`orderBy(${c})`, any.query().orderBy(column).get()],
                [`whereIn(${c})`, any.query().whereIn(column, ["x"]).get()],
                [`countWhere(${c})`, any.countWhere(column, "x")],
                [`update patch {${c}}`, any.update(row.id, { [column]: "x" })],
                [`upsert conflict ${c}`, any.upsert({ k: key, v: "x" }, { conflict: [column] })]
              )
            }
            for (const [what, value] of hostileValues) {
              attempts.push(
                [`where(k, ${what})`, any.where("k", value).get()],
                [`where(k, =, ${what})`, any.where("k", "=", value).get()],
                [`whereIn(k, [${what}])`, any.query().whereIn("k", [value]).get()],
                [`find(${what})`, any.find(value)],
                [`update v = ${what}`, any.update(row.id, { v: value })],
                [`create v = ${what}`, any.create({ k: key, v: value })]
              )
            }
            attempts.push(
              ["where(k, operator injection)", any.where("k", "= 'x' OR 1=1 --", "x").get()],
              ["orderBy direction injection", any.query().orderBy("k", "asc; DROP TABLE t").get()],
              ["limit injection", any.query().limit("1; DROP TABLE t").get()]
            )
            const outcomes: Array<{ readonly what: string; readonly outcome: string }> = []
            for (const [what, attempt] of attempts) {
              const exit = yield* Effect.either(attempt)
              outcomes.push({ what, outcome: Either.isRight(exit) ? "ACCEPTED" : tagOf(exit.left) })
            }
            const after = yield* tableState(b)
            const routedAfter = yield* routedTotal
            // An unknown key in `create` is not refused: the model's insert schema drops keys that are not fields
            // (Effect Schema ignores excess properties), so it never reaches SQL and the row holds the model's
            // columns only. (`update` refuses the same keys: see above.)
            const extra = yield* Effect.forEach(hostileColumns, (column) =>
              Effect.either(any.create({ k: `${key}-extra`, v: "extra", [column]: "x" })))
            const extraRows = yield* Effect.promise(() =>
              primaryQuery<Record<string, unknown>>(b, `SELECT * FROM ${KV_TABLE} WHERE k = ${b.p(1)}`, [
                `${key}-extra`
              ])
            )
            return {
              outcomes,
              before,
              after,
              sent: routedAfter - routedBefore,
              extraAccepted: extra.filter(Either.isRight).length,
              extraRowKeys: [
                ...new Set(extraRows.flatMap((r) =>
                  Object.keys(r)
                ))
              ].sort()
            }
          }).pipe(Effect.provide(ormLayer(b)))
          const byTag: Record<string, number> = {}
          for (const o of results.outcomes) byTag[o.outcome] = (byTag[o.outcome] ?? 0) + 1
          console.log(
            `[injection ${b.name}] ${results.outcomes.length} attempts: ${JSON.stringify(byTag)}; statements routed ` +
              `${results.sent}; table ${results.before} -> ${results.after}; create with an unknown key: ` +
              `${results.extraAccepted}/${hostileColumns.length} stored with columns ${results.extraRowKeys.join(",")}`
          )
          const typed = new Set([
            "InvalidColumn",
            "InvalidIdentifier",
            "InvalidValue",
            "InvalidOperator",
            "InvalidLimit"
          ])
          // ParseError: the model's schema refuses a value of the wrong type before the repository's own check.
          const accepted = results.outcomes.filter((o) => !typed.has(o.outcome) && o.outcome !== "ParseError")
          expect(accepted).toEqual([])
          expect(results.sent).toBe(0)
          expect(results.after).toBe(results.before)
          expect(results.extraRowKeys).toEqual(["id", "k", "v"])
          yield* expectSessionsBack(b, baseline)
        }),
      60_000
    )
  })
}
