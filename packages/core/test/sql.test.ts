/**
 * The query builder's SQL text, without a server: each row is a statement shape and its text per dialect, and for
 * every row the number of placeholders equals the number of parameters (the text and the parameter list walk the
 * conditions the same way). Shapes that render differently have different cache keys.
 */
import { describe, expect, it } from "@effect/vitest"
import type { Dialect } from "../src/Dialect.js"
import * as RowSql from "../src/internal/rowSql.js"
import type { Condition, Select } from "../src/internal/sql.js"
import * as Sql from "../src/internal/sql.js"
import * as Shape from "../src/internal/sqlShape.js"

const base: Select = {
  table: "users",
  conditions: [],
  columns: undefined,
  orders: [],
  limit: undefined,
  offset: undefined,
  lock: false
}

const eq = (column: string, value: any, connector: "AND" | "OR" = "AND"): Condition => ({
  _tag: "Compare",
  connector,
  column,
  operator: "=",
  value
})

const nested: ReadonlyArray<Condition> = [
  eq("status", "active"),
  {
    _tag: "Group",
    connector: "AND",
    not: false,
    conditions: [
      { _tag: "Compare", connector: "AND", column: "age", operator: ">", value: 40 },
      eq("name", "John", "OR")
    ]
  },
  {
    _tag: "Group",
    connector: "OR",
    not: true,
    conditions: [{ _tag: "Between", connector: "AND", column: "age", not: false, low: 1, high: 9 }]
  },
  { _tag: "Like", connector: "AND", column: "email", not: false, pattern: "%@x", caseInsensitive: true },
  { _tag: "In", connector: "AND", column: "id", not: false, values: [1, 2, 3] },
  { _tag: "In", connector: "AND", column: "id", not: true, values: [] },
  eq("age", null),
  { _tag: "Null", connector: "AND", column: "age", not: true }
]

const having: ReadonlyArray<Sql.Having> = [
  { target: { aggregate: { fn: "count", column: undefined } }, operator: ">", value: 1 },
  { target: { column: "status" }, operator: "!=", value: null }
]

/** Placeholders in a text: `$n` on PostgreSQL, `?` elsewhere (identifiers never contain either here). */
const placeholders = (dialect: Dialect, text: string) =>
  (text.match(dialect === "postgresql" ? /\$\d+/g : /\?/g) ?? []).length

interface Row {
  readonly name: string
  readonly text: (dialect: Dialect) => string
  readonly params: (dialect: Dialect) => ReadonlyArray<unknown>
  readonly expected: Partial<Record<Dialect, string>>
}

const select = (s: Partial<Select>): Pick<Row, "text" | "params"> => ({
  text: (d) => Sql.select(d, { ...base, ...s }),
  params: (d) => Shape.limitParams(d, s.limit, s.offset, Shape.conditionParams(d, s.conditions ?? []))
})

const rows: ReadonlyArray<Row> = [
  {
    name: "every row",
    ...select({}),
    expected: { postgresql: `SELECT * FROM "users"`, mysql: "SELECT * FROM `users`", sqlite: `SELECT * FROM "users"` }
  },
  {
    name: "nested groups, NOT, BETWEEN, LIKE, IN and nulls",
    ...select({ conditions: nested }),
    expected: {
      postgresql: `SELECT * FROM "users" WHERE ("status" = $1) AND (("age" > $2) OR ("name" = $3)) OR ` +
        `(NOT (("age" BETWEEN $4 AND $5))) AND ("email" ILIKE $6) AND ("id" = ANY($7)) AND (1=1) AND ` +
        `("age" IS NULL) AND ("age" IS NOT NULL)`,
      mysql: "SELECT * FROM `users` WHERE (`status` = ?) AND ((`age` > ?) OR (`name` = ?)) OR " +
        "(NOT ((`age` BETWEEN ? AND ?))) AND (`email` LIKE ?) AND (`id` IN (?, ?, ?)) AND (1=1) AND " +
        "(`age` IS NULL) AND (`age` IS NOT NULL)"
    }
  },
  {
    name: "columns, order, limit and offset",
    ...select({ columns: ["id", "name"], orders: [["name", "desc"], ["id", "asc"]], limit: 10, offset: 20 }),
    expected: {
      postgresql: `SELECT "id", "name" FROM "users" ORDER BY "name" DESC, "id" ASC LIMIT $1 OFFSET $2`,
      mysql: "SELECT `id`, `name` FROM `users` ORDER BY `name` DESC, `id` ASC LIMIT 10 OFFSET 20",
      sqlite: `SELECT "id", "name" FROM "users" ORDER BY "name" DESC, "id" ASC LIMIT ? OFFSET ?`
    }
  },
  {
    name: "an offset without a limit, and a row lock",
    ...select({ offset: 5, lock: true }),
    expected: {
      postgresql: `SELECT * FROM "users" OFFSET $1 FOR UPDATE`,
      mysql: "SELECT * FROM `users` LIMIT 18446744073709551615 OFFSET 5 FOR UPDATE",
      sqlite: `SELECT * FROM "users" LIMIT -1 OFFSET ?`
    }
  },
  {
    name: "count over a limited query",
    text: (d) => Sql.count(d, { ...base, conditions: [eq("status", "x")], limit: 3 }),
    params: (d) => Shape.limitParams(d, 3, undefined, Shape.conditionParams(d, [eq("status", "x")])),
    expected: {
      postgresql:
        `SELECT COUNT(*) AS fastorm_value FROM (SELECT 1 AS fastorm_one FROM "users" WHERE ("status" = $1) LIMIT $2) fastorm_sub`
    }
  },
  {
    name: "sum, 0 over no rows",
    text: (d) => Sql.aggregate(d, { ...base, conditions: [eq("status", "x")] }, { fn: "sum", column: "age" }),
    params: (d) => Shape.conditionParams(d, [eq("status", "x")]),
    expected: { mysql: "SELECT COALESCE(SUM(`age`), 0) AS fastorm_value FROM `users` WHERE (`status` = ?)" }
  },
  {
    name: "groups with aggregates, HAVING by expression, order by an aggregate's name",
    text: (d) =>
      Sql.grouped(d, {
        select: { ...base, conditions: [eq("status", "x")], orders: [["n", "desc"]], limit: 2 },
        groups: ["status"],
        aggregates: [["n", { fn: "count", column: undefined }], ["top", { fn: "max", column: "age" }]],
        having
      }),
    params: (d) =>
      Shape.limitParams(d, 2, undefined, Shape.havingParams(d, having, Shape.conditionParams(d, [eq("status", "x")]))),
    expected: {
      postgresql: `SELECT "status", COUNT(*) AS "n", MAX("age") AS "top" FROM "users" WHERE ("status" = $1) ` +
        `GROUP BY "status" HAVING (COUNT(*) > $2) AND ("status" IS NOT NULL) ORDER BY "n" DESC LIMIT $3`
    }
  },
  {
    name: "a page and the total in one statement",
    text: (d) =>
      Sql.paginate(d, { ...base, conditions: [eq("status", "x")], orders: [["id", "asc"]], limit: 2, offset: 4 }),
    params: (d) => {
      const out = Shape.conditionParams(d, [eq("status", "x")])
      Shape.conditionParams(d, [eq("status", "x")], out)
      return Shape.limitParams(d, 2, 4, out)
    },
    expected: {
      mysql: "SELECT fastorm_t.fastorm_total, fastorm_p.* FROM (SELECT COUNT(*) AS fastorm_total FROM `users` " +
        "WHERE (`status` = ?)) fastorm_t LEFT JOIN (SELECT 1 AS fastorm_row, `users`.* FROM `users` WHERE " +
        "(`status` = ?) ORDER BY `id` ASC LIMIT 2 OFFSET 4) fastorm_p ON 1 = 1 ORDER BY fastorm_p.`id` ASC"
    }
  },
  {
    name: "an update counted in the statement on PostgreSQL",
    text: (d) => Sql.update(d, "users", ["status", "age"], [eq("id", 1)]),
    params: (d) => Shape.conditionParams(d, [eq("id", 1)], ["a", 2]),
    expected: {
      postgresql: `UPDATE "users" SET "status" = $1, "age" = $2 WHERE ("id" = $3)`,
      mysql: "UPDATE `users` SET `status` = ?, `age` = ? WHERE (`id` = ?)"
    }
  },
  {
    name: "increment and delete",
    text: (d) => `${Sql.increment(d, "users", "age", [eq("id", 1)])}; ${Sql.delete_(d, "users", [eq("id", 2)])}`,
    params: (d) => [1, ...Shape.conditionParams(d, [eq("id", 1)]), ...Shape.conditionParams(d, [eq("id", 2)])],
    expected: {
      sqlite: `UPDATE "users" SET "age" = "age" + ? WHERE ("id" = ?); DELETE FROM "users" WHERE ("id" = ?)`
    }
  },
  {
    name: "upsert of two rows",
    text: (d) => RowSql.upsert(d, "users", ["email", "name"], 2, ["email"], ["name"]),
    params: () => [1, 2, 3, 4],
    expected: {
      postgresql: `INSERT INTO "users" ("email", "name") VALUES ($1, $2), ($3, $4) ON CONFLICT ("email") DO UPDATE ` +
        `SET "name" = EXCLUDED."name" RETURNING *`,
      mysql:
        "INSERT INTO `users` (`email`, `name`) VALUES (?, ?), (?, ?) ON DUPLICATE KEY UPDATE `name` = VALUES(`name`)"
    }
  }
]

describe("query SQL", () => {
  for (const row of rows) {
    it(row.name, () => {
      for (const dialect of ["postgresql", "mysql", "sqlite"] as const) {
        const text = row.text(dialect)
        const expected = row.expected[dialect]
        if (expected !== undefined) expect(text).toBe(expected)
        expect(placeholders(dialect, text)).toBe(row.params(dialect).length)
      }
    })
  }

  it("IN lists: one array parameter on PostgreSQL, one per value elsewhere; SQLite binds booleans and Dates", () => {
    const list: ReadonlyArray<Condition> = [
      { _tag: "In", connector: "AND", column: "id", not: false, values: [1, 2] },
      eq("flag", true),
      eq("at", new Date(0))
    ]
    expect(Shape.conditionParams("postgresql", list)).toEqual([[1, 2], true, new Date(0)])
    expect(Shape.conditionParams("mysql", list)).toEqual([1, 2, true, new Date(0)])
    expect(Shape.conditionParams("sqlite", list)).toEqual([1, 2, 1, "1970-01-01T00:00:00.000Z"])
  })

  it("cache keys: shapes that render differently differ, values do not matter", () => {
    const shape = (s: Partial<Select>, dialect: Dialect = "postgresql") => Shape.selectShape(dialect, { ...base, ...s })
    expect(shape({ conditions: [eq("a", 1)] })).toBe(shape({ conditions: [eq("a", 2)] }))
    expect(shape({ conditions: [eq("a", 1)] })).not.toBe(shape({ conditions: [eq("a", null)] }))
    expect(shape({ conditions: [eq("a", 1)] })).not.toBe(shape({ conditions: [eq("a", 1, "OR"), eq("b", 1)] }))
    expect(shape({ conditions: [eq("a", 1), eq("b", 1, "OR")] })).not.toBe(
      shape({ conditions: [eq("a", 1), eq("b", 1)] })
    )
    expect(shape({ limit: 1 })).toBe(shape({ limit: 2 }))
    expect(shape({ limit: 1 }, "mysql")).not.toBe(shape({ limit: 2 }, "mysql"))
    expect(shape({ limit: 1 })).not.toBe(shape({}))
    expect(shape({ columns: ["a"] })).not.toBe(shape({ columns: ["a", "b"] }))
    expect(shape({ orders: [["a", "asc"]] })).not.toBe(shape({ orders: [["a", "desc"]] }))
    const inList = (n: number): Condition => ({
      _tag: "In",
      connector: "AND",
      column: "id",
      not: false,
      values: Array.from({ length: n }, (_, i) => i)
    })
    expect(shape({ conditions: [inList(2)] }, "mysql")).not.toBe(shape({ conditions: [inList(3)] }, "mysql"))
    const group = (not: boolean): Condition => ({ _tag: "Group", connector: "AND", not, conditions: [eq("a", 1)] })
    expect(shape({ conditions: [group(true)] })).not.toBe(shape({ conditions: [group(false)] }))
    expect(shape({ conditions: [group(false)] })).not.toBe(shape({ conditions: [eq("a", 1)] }))
  })
})
