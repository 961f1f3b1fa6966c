/**
 * PostgreSQL behind a pooler, without a server: PgBouncer's own answers (the texts PgBouncer 1.18 sends, seen through
 * pg against the test cluster's PgBouncer) read into what they mean, and where the session settings travel directly
 * and behind a pooler.
 */
import { SqlError } from "@effect/sql/SqlError"
import { describe, expect, it } from "@effect/vitest"
import { OptimalConfig, PostgreSQLAdapter } from "../src/index.js"
import * as NodePool from "../src/internal/pgPool.js"
import { openingStatements, poolerRefusal, startupParameters, transactionSettings } from "../src/internal/pgSession.js"
import { answerOf, refusedStartupParameter } from "../src/internal/pooler.js"

const pgError = (message: string, code = "08P01") => Object.assign(new Error(message), { code, severity: "FATAL" })

const answers: ReadonlyArray<readonly [text: string, tag: string | undefined]> = [
  ["unsupported startup parameter: statement_timeout", "UnsupportedStartupParameter"],
  ["unsupported startup parameter: options=-c jit=off", "UnsupportedStartupParameter"],
  ["no more connections allowed (max_client_conn)", "Busy"],
  ["query_wait_timeout", "Busy"],
  ["server login has been failing, try again later (server_login_retry)", "ServerUnreachable"],
  ["pgbouncer cannot connect to server", "ServerUnreachable"],
  ["client_login_timeout (server down)", "ServerUnreachable"],
  ["SASL authentication failed", "LoginRefused"],
  ["password authentication failed", "LoginRefused"],
  // A server connection lost under a statement: left to the SQLSTATE (class 08), as without a pooler.
  ["server conn crashed?", undefined],
  ["no such database: nodb", undefined]
]

describe("a pooler's own answers", () => {
  for (const [text, tag] of answers) {
    it(`"${text}" is ${tag ?? "not one of them"}`, () => {
      expect(answerOf(pgError(text))?._tag).toBe(tag)
    })
  }

  it("only under PgBouncer's SQLSTATE 08P01: the server's own texts and codes are never read as a pooler's", () => {
    expect(answerOf(pgError("query_wait_timeout", "57014"))).toBeUndefined()
    expect(answerOf(pgError("password authentication failed for user \"app\"", "28P01"))).toBeUndefined()
    expect(answerOf({ message: "no more connections allowed" })).toBeUndefined()
  })

  it("names the refused parameter; found anywhere in a cause chain through the public reader", () => {
    expect(answerOf(pgError("unsupported startup parameter: options=-c jit=off"))).toMatchObject({
      parameter: "options"
    })
    const wrapped = new SqlError({
      message: "Failed to acquire a connection",
      cause: new AggregateError([pgError("query_wait_timeout")], "")
    })
    expect(PostgreSQLAdapter.poolerAnswer(wrapped)).toEqual({ _tag: "Busy", text: "query_wait_timeout" })
    expect(refusedStartupParameter(pgError("unsupported startup parameter: lock_timeout"))).toBe(true)
    expect(refusedStartupParameter(pgError("query_wait_timeout"))).toBe(false)
  })
})

describe("PostgreSQL session settings, directly and behind a pooler", () => {
  const config = OptimalConfig.merge(OptimalConfig.postgres, {
    statementTimeout: "2 seconds",
    lockTimeout: "500 millis",
    idleInTransactionTimeout: "1 minute",
    applicationName: "billing"
  })

  it("directly: every setting in the startup packet", () => {
    expect(startupParameters(config, true, false)).toEqual({
      statement_timeout: 2000,
      lock_timeout: 500,
      idle_in_transaction_session_timeout: 60_000,
      application_name: "billing",
      options: "-c jit=off -c default_transaction_read_only=on"
    })
  })

  it("behind a pooler: only application_name, which PgBouncer forwards", () => {
    expect(startupParameters(config, true, true)).toEqual({ application_name: "billing" })
  })

  it("behind a pooler a transaction opens with its timeouts as SET LOCAL statements, one statement each", () => {
    const settings = [
      "SET LOCAL statement_timeout = 2000",
      "SET LOCAL lock_timeout = 500",
      "SET LOCAL idle_in_transaction_session_timeout = 60000"
    ]
    expect(transactionSettings(config)).toEqual(settings)
    expect(openingStatements("BEGIN", transactionSettings(config), true)).toEqual(["BEGIN", ...settings])
    // A trailing semicolon would make a second, empty statement of what pg parses as one.
    expect(openingStatements(" begin; ", transactionSettings(config), true)).toEqual(["begin", ...settings])
    expect(openingStatements("BEGIN ISOLATION LEVEL SERIALIZABLE", transactionSettings(config), true))
      .toEqual(["BEGIN ISOLATION LEVEL SERIALIZABLE", ...settings])
    // Directly, the session carries the timeouts: BEGIN alone, as given.
    expect(openingStatements(" begin; ", transactionSettings(config), false)).toEqual([" begin; "])
  })

  it("searchPath travels as a startup option without the spaces SET allows; no searchPath, no option", () => {
    const withPath = OptimalConfig.merge(config, { searchPath: "billing, \"$user\" ,public" })
    expect(startupParameters(withPath, false, false).options).toBe("-c jit=off -c search_path=billing,\"$user\",public")
    expect(startupParameters(config, false, false).options).toBe("-c jit=off")
    expect(poolerRefusal(config)).toBeUndefined()
    expect(poolerRefusal(withPath)).toContain("search_path")
  })

  it.each(
    [
      ["app", []],
      ["app, public", []],
      ["\"$user\", public", []],
      ["\"Sales2026\",_tmp$1", []],
      ["", ["searchPath must be a non-empty string"]],
      ["app public", ["searchPath must be schema names separated by commas, e.g. \"app, public\""]],
      ["\"my schema\"", ["searchPath must be schema names separated by commas, e.g. \"app, public\""]],
      ["app\\x", ["searchPath must be schema names separated by commas, e.g. \"app, public\""]],
      ["app,", ["searchPath must be schema names separated by commas, e.g. \"app, public\""]]
    ] as const
  )("searchPath %j: %j", (searchPath, problems) => {
    expect(OptimalConfig.check("postgresql", { searchPath })).toEqual(problems)
  })

  it("behind a pooler that refuses the startup packet, a pool with a searchPath fails its checkouts naming it", () => {
    const configs: Array<boolean> = []
    // A pg Pool stand-in that refuses every startup packet, as PgBouncer does the first one.
    class RefusingPool {
      constructor(readonly config: object) {}
      on() {}
      end() {
        return Promise.resolve()
      }
      connect(callback: (error: Error, client: undefined, release: () => void) => void) {
        callback(pgError("unsupported startup parameter: statement_timeout"), undefined, () => {})
      }
    }
    const open = (refusal: string | undefined) =>
      NodePool.make(RefusingPool as never, (behindPooler) => {
        configs.push(behindPooler)
        return {}
      }, refusal)
    const errors: Array<unknown> = []
    const pool = open(poolerRefusal(OptimalConfig.merge(config, { searchPath: "billing" })))
    pool.connect((error) => errors.push(error))
    expect(configs).toEqual([false])
    expect(pool.behindPooler()).toBe(false)
    expect(answerOf(errors[0])).toMatchObject({ _tag: "UnsupportedStartupParameter", parameter: "search_path" })
    // Without one, the pool reopens once without its startup parameters (and reports the second refusal).
    configs.length = 0
    errors.length = 0
    const plain = open(undefined)
    plain.connect((error) => errors.push(error))
    expect(configs).toEqual([false, true])
    expect(plain.behindPooler()).toBe(true)
    expect(answerOf(errors[0])).toMatchObject({ parameter: "statement_timeout" })
  })

  it("preparedStatements is \"auto\" by default; true, false and \"auto\" are accepted, anything else refused", () => {
    expect(OptimalConfig.postgres.preparedStatements).toBe("auto")
    for (const value of [true, false, "auto"]) {
      expect(OptimalConfig.check("postgresql", { preparedStatements: value })).toEqual([])
    }
    expect(OptimalConfig.check("postgresql", { preparedStatements: "always" })).toEqual([
      "preparedStatements must be one of true, false, \"auto\""
    ])
  })
})
