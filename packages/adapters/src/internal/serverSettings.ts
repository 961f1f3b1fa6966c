/**
 * `serverSettings`: server settings FastORM has no setting of its own for (`work_mem`, `sql_mode`), given by the
 * server's names and applied to every connection of the node: PostgreSQL startup options (`-c name=value`, no round
 * trip), MySQL/MariaDB one `SET SESSION` on each new connection. The settings FastORM sets itself are refused with the
 * setting to use instead, so one value cannot be given two ways; problems name the setting, never its value.
 */

/** The dialects with server settings (SQLite's pragmas are FastORM's own settings). */
export type Dialect = "postgresql" | "mysql"

// The server settings FastORM sets or relies on, and what to use instead.
const owned: { readonly [D in Dialect]: Readonly<Record<string, string>> } = {
  postgresql: {
    statement_timeout: "use statementTimeout",
    lock_timeout: "use lockTimeout",
    idle_in_transaction_session_timeout: "use idleInTransactionTimeout",
    search_path: "use searchPath",
    application_name: "use applicationName",
    jit: "use jit",
    default_transaction_read_only: "FastORM sets it on replicas' connections",
    client_encoding: "FastORM's connections always use UTF8",
    datestyle: "the driver reads dates in the server's default style",
    intervalstyle: "the driver reads intervals in the server's default style"
  },
  mysql: {
    time_zone: "use timezone",
    max_statement_time: "use statementTimeout",
    max_execution_time: "use statementTimeout",
    net_read_timeout: "use readTimeout",
    net_write_timeout: "use writeTimeout",
    names: "use charset and collation",
    character_set_client: "use charset",
    character_set_connection: "use charset",
    character_set_results: "use charset",
    collation_connection: "use collation",
    autocommit: "FastORM's statements and transactions rely on it",
    transaction_read_only: "FastORM sets it on replicas' connections",
    tx_read_only: "FastORM sets it on replicas' connections",
    session_track_system_variables: "FastORM reads write positions through it",
    session_track_gtids: "FastORM reads write positions through it"
  }
}

// Names as the servers spell them: PostgreSQL's custom settings have a dot (`app.tenant`), MySQL's have none.
const names: { readonly [D in Dialect]: RegExp } = {
  postgresql: /^[a-z_][a-z0-9_]{0,62}(\.[a-z_][a-z0-9_]{0,62})?$/i,
  mysql: /^[a-z_][a-z0-9_]{0,63}$/i
}

/** Why FastORM keeps `name` (any case) to itself, with what to use instead; undefined when it does not. */
export const ownedBy = (dialect: Dialect, name: string): string | undefined => {
  const lower = name.toLowerCase()
  return Object.prototype.hasOwnProperty.call(owned[dialect], lower) ? owned[dialect][lower] : undefined
}

/** Whether `name` is spelt as a server setting of `dialect`. */
export const isName = (dialect: Dialect, name: string): boolean => names[dialect].test(name)

/** A value a startup option or a session statement carries whole: printable, at most 1024 characters. */
export const isValue = (value: unknown): value is string =>
  typeof value === "string" && value.length > 0 && value.length <= 1024 && !/\p{Cc}/u.test(value)

/** The one problem with a `serverSettings` value (`key` names it in the message), or undefined. */
export const problem = (dialect: Dialect, key: string, value: unknown): string | undefined => {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return `${key} must be an object of server settings by name, e.g. { work_mem: "64MB" }`
  }
  const seen = new Set<string>()
  for (const [name, text] of Object.entries(value)) {
    if (!isName(dialect, name)) return `${key} has a name that is not a server setting's (letters, digits and _)`
    const lower = name.toLowerCase()
    if (seen.has(lower)) return `${key} gives ${lower} twice (names are case-insensitive)`
    seen.add(lower)
    const instead = ownedBy(dialect, name)
    if (instead !== undefined) return `${key} cannot set ${lower}: ${instead}`
    if (!isValue(text)) return `${key}.${lower} must be printable text of 1 to 1024 characters`
    // A backslash escapes in MySQL's strings unless sql_mode has NO_BACKSLASH_ESCAPES: no one reading of it is safe.
    if (dialect === "mysql" && text.includes("\\")) return `${key}.${lower} must not hold a backslash`
  }
  return undefined
}

/** The settings as they are applied: names in lower case, as the servers list them. */
export const entries = (settings: Readonly<Record<string, string>>): ReadonlyArray<readonly [string, string]> =>
  Object.entries(settings).map(([name, value]) => [name.toLowerCase(), value])

/** PostgreSQL's startup options for the settings; the server reads a backslash as keeping the next character. */
export const startupOptions = (settings: Readonly<Record<string, string>>): ReadonlyArray<string> =>
  entries(settings).map(([name, value]) => `-c ${name}=${value.replace(/[\\\s]/g, (c) => `\\${c}`)}`)

// A MySQL value: a number as a number (a numeric variable refuses a string), anything else a quoted string.
const mysqlValue = (value: string): string =>
  /^-?\d{1,18}(\.\d+)?$/.test(value) ? value : `'${value.replace(/\\/g, "\\\\").replace(/'/g, "''")}'`

/** MySQL/MariaDB's session statement for the settings, or undefined when there are none. */
export const sessionStatement = (settings: Readonly<Record<string, string>>): string | undefined => {
  const list = entries(settings)
  return list.length === 0
    ? undefined
    : `SET SESSION ${list.map(([name, value]) => `${name} = ${mysqlValue(value)}`).join(", ")}`
}

/**
 * MySQL Connector/J's `sessionVariables` URL option (`sql_mode='TRADITIONAL',sort_buffer_size=262144`): pairs
 * separated by commas, a value with commas in single quotes. Undefined when the text is not such a list, names a
 * variable twice, or names one FastORM sets itself.
 */
export const parseSessionVariables = (text: string): Readonly<Record<string, string>> | undefined => {
  const settings: Record<string, string> = {}
  const pair = /\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(?:'([^']*)'|([^,']*?))\s*(,|$)/y
  let at = 0
  while (at < text.length) {
    pair.lastIndex = at
    const match = pair.exec(text)
    if (match === null || match[0].length === 0) return undefined
    settings[match[1]!] = match[2] ?? match[3]!
    at = pair.lastIndex
    if (match[4] === "," && at === text.length) return undefined
  }
  return Object.keys(settings).length > 0 && problem("mysql", "sessionVariables", settings) === undefined
    ? settings
    : undefined
}
