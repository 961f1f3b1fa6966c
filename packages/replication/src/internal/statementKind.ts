/**
 * Which statements a replica may run. Anything not recognisably a plain read goes to the primary: a replica that
 * is asked to write refuses anyway, but a primary that is asked to read never gives a wrong answer.
 */

/** `read`: may run on a replica; `locking`: a read that takes row locks (primary); `write`: everything else. */
export type StatementKind = "read" | "locking" | "write"

const leading = /^(?:\s+|--[^\n]*\n?|\/\*[\s\S]*?\*\/|\()*/
const firstWord = /^[A-Za-z]+/
const lockingClause = /\bFOR\s+(?:NO\s+KEY\s+)?UPDATE\b|\bFOR\s+(?:KEY\s+)?SHARE\b|\bLOCK\s+IN\s+SHARE\s+MODE\b/i
// Data-modifying CTEs (PostgreSQL), SELECT ... INTO (creates a table), and the sequence/lock functions a read-only
// transaction refuses.
const writesInRead =
  /\b(?:INSERT|UPDATE|DELETE|MERGE|TRUNCATE)\b|\bINTO\b|\b(?:nextval|setval|pg_advisory_(?:xact_)?lock\w*|GET_LOCK|RELEASE_LOCK)\s*\(/i
const stringsAndComments = /'(?:[^']|'')*'|"(?:[^"]|"")*"|`[^`]*`|--[^\n]*|\/\*[\s\S]*?\*\//g
// MySQL/MariaDB strings also end differently: a backslash escapes the next character ('it\'s').
const stringsWithEscapes = /'(?:[^'\\]|\\[\s\S]|'')*'|"(?:[^"\\]|\\[\s\S]|"")*"|`[^`]*`|--[^\n]*|\/\*[\s\S]*?\*\//g
const explainPrefix = /^\s*EXPLAIN(?:\s*\([^)]*\)|\s+ANALY[SZ]E\b|\s+VERBOSE\b)*/i

/**
 * The statement with literals and comments blanked out. Whether a backslash escapes a quote depends on the dialect
 * and its settings, so a statement with a backslash is read both ways: a keyword that is code in either reading
 * counts (only ever towards the primary).
 */
const codeViews = (sql: string): ReadonlyArray<string> =>
  sql.includes("\\")
    ? [sql.replace(stringsAndComments, " "), sql.replace(stringsWithEscapes, " ")]
    : [sql.replace(stringsAndComments, " ")]

/** Classifies one SQL statement; unknown shapes are writes. */
export const classify = (sql: string): StatementKind => {
  const rest = sql.replace(leading, "")
  const word = firstWord.exec(rest)?.[0]?.toUpperCase()
  switch (word) {
    case "SELECT":
    case "WITH":
    case "VALUES":
    case "TABLE": {
      // Literals and comments may contain any word: look at the code only.
      const views = codeViews(rest)
      // FOR UPDATE contains UPDATE: the locking clause is looked for first (both run on the primary).
      if (views.some((code) => lockingClause.test(code))) return "locking"
      return views.some((code) => writesInRead.test(code)) ? "write" : "read"
    }
    case "SHOW":
    case "DESCRIBE":
    case "DESC":
      return "read"
    case "EXPLAIN": {
      // EXPLAIN ANALYZE runs the statement: it is what the statement is. Plain EXPLAIN only plans it.
      const explained = rest.replace(explainPrefix, "")
      return codeViews(rest.slice(0, rest.length - explained.length)).some((code) => /\bANALY[SZ]E\b/i.test(code))
        ? classify(explained)
        : "read"
    }
    default:
      return "write"
  }
}

// Applications send the same few hundred statement texts over and over: classify each once.
const kinds = new Map<string, StatementKind>()

/** `classify`, remembered for the last few thousand statement texts. */
export const kindOf = (sql: string): StatementKind => {
  let kind = kinds.get(sql)
  if (kind === undefined) {
    kind = classify(sql)
    if (kinds.size >= 4096) kinds.clear()
    kinds.set(sql, kind)
  }
  return kind
}
