/**
 * The statement classifier decides which statements a replica may run: anything that is not recognisably a plain
 * read must reach the primary.
 */
import { describe, expect, it } from "@effect/vitest"
import { classify } from "../src/internal/statementKind.js"

const table = (cases: ReadonlyArray<string>, kind: "read" | "locking" | "write") =>
  it.each(cases)(`%j is ${kind}`, (sql) => {
    expect(classify(sql)).toBe(kind)
  })

describe("classify", () => {
  describe("reads", () => {
    table([
      "SELECT * FROM users",
      "  select id from users where id = $1",
      "(SELECT 1) UNION (SELECT 2)",
      "-- why\nSELECT 1",
      "/* a comment */ SELECT 1",
      "WITH a AS (SELECT 1) SELECT * FROM a",
      "VALUES (1), (2)",
      "TABLE users",
      "SHOW TABLES",
      "DESCRIBE users",
      "DESC users",
      "EXPLAIN SELECT * FROM users",
      // Plain EXPLAIN only plans the statement, even a write.
      "EXPLAIN DELETE FROM users",
      "EXPLAIN ANALYZE SELECT 1",
      "EXPLAIN ANALYZE VERBOSE SELECT 1",
      "EXPLAIN (ANALYZE, BUFFERS) SELECT 1",
      // Column names that merely start like keywords.
      "SELECT updated_at, inserted, into_col FROM t WHERE deleted = 0"
    ], "read")
  })

  describe("keywords inside literals, quoted names and comments are not code", () => {
    table([
      "SELECT 'DELETE FROM users' AS s",
      "SELECT 'for update' FROM t",
      "SELECT 'it''s INTO nothing' FROM t",
      "SELECT 1 -- FOR UPDATE\n",
      "SELECT 1 /* INSERT INTO t */",
      "SELECT \"update\" FROM t",
      "SELECT `insert` FROM t",
      "SELECT 'c:\\\\dir' FROM t",
      "EXPLAIN SELECT 'ANALYZE'"
    ], "read")
  })

  describe("locking reads", () => {
    table([
      "SELECT * FROM t FOR UPDATE",
      "SELECT * FROM t FOR SHARE",
      "SELECT * FROM t FOR NO KEY UPDATE",
      "SELECT * FROM t FOR KEY SHARE",
      "SELECT * FROM t LOCK IN SHARE MODE",
      "select * from t for  update skip locked",
      "SELECT * FROM t FOR\nUPDATE NOWAIT",
      "WITH a AS (SELECT 1) SELECT * FROM a FOR UPDATE"
    ], "locking")
  })

  describe("reads that write", () => {
    table([
      // Data-modifying CTEs (PostgreSQL).
      "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d",
      "WITH u AS (UPDATE t SET a = 1 RETURNING *) SELECT count(*) FROM u",
      "WITH i AS (INSERT INTO t VALUES (1) RETURNING *) SELECT * FROM i",
      // SELECT ... INTO creates a table.
      "SELECT * INTO new_t FROM t",
      // Functions a read-only transaction refuses.
      "SELECT nextval('users_id_seq')",
      "SELECT setval('users_id_seq', 10)",
      "SELECT pg_advisory_lock(1)",
      "SELECT pg_advisory_xact_lock_shared(1)",
      "SELECT GET_LOCK('a', 1)",
      "SELECT RELEASE_LOCK('a')",
      // EXPLAIN ANALYZE runs the statement.
      "EXPLAIN ANALYZE DELETE FROM t",
      "EXPLAIN ANALYSE UPDATE t SET a = 1",
      "EXPLAIN (ANALYZE) INSERT INTO t VALUES (1)",
      "EXPLAIN (ANALYZE, BUFFERS) WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d",
      // A backslash-escaped quote (MySQL) must not hide code behind what a standard reading takes for a literal.
      "SELECT 'x\\'', GET_LOCK('a', 1) -- '",
      "SELECT 'a\\' , nextval('s') -- '"
    ], "write")
  })

  describe("writes and unknown shapes", () => {
    table([
      "INSERT INTO t VALUES (1)",
      "UPDATE t SET a = 1",
      "DELETE FROM t",
      "REPLACE INTO t VALUES (1)",
      "MERGE INTO t USING s ON true WHEN MATCHED THEN DELETE",
      "TRUNCATE t",
      "CREATE TABLE x (a int)",
      "ALTER TABLE x ADD b int",
      "DROP TABLE x",
      "BEGIN",
      "COMMIT",
      "SET search_path = x",
      "CALL p()",
      "DO $$ BEGIN END $$",
      "LOCK TABLE t",
      "COPY t TO STDOUT",
      "PRAGMA journal_mode",
      "ANALYZE t",
      "",
      "   ",
      "-- only a comment"
    ], "write")
  })

  it("a write hidden in a dollar-quoted body still counts (never towards a replica)", () => {
    expect(classify("SELECT $$x$$, nextval('s')")).toBe("write")
  })
})
