/**
 * Query-string options each dialect understands. Anything else is reported: a typo such as `sslmod=require` would
 * otherwise be ignored silently and leave the connection unencrypted.
 */
import type { Dialect } from "../Dialect.js"

// libpq connection parameters (PostgreSQL docs §34.1.2), the pg / pg-connection-string extras (ssl, query_timeout,
// uselibpqcompat, rejectUnauthorized) and search_path, which the adapter applies per session.
const postgresql = [
  "host",
  "port",
  "user",
  "password",
  "sslmode",
  "sslrootcert",
  "sslcert",
  "sslkey",
  "sslpassword",
  "sslcrl",
  "sslnegotiation",
  "ssl",
  "rejectUnauthorized",
  "uselibpqcompat",
  "application_name",
  "fallback_application_name",
  "connect_timeout",
  "options",
  "statement_timeout",
  "lock_timeout",
  "idle_in_transaction_session_timeout",
  "query_timeout",
  "keepalives",
  "keepalives_idle",
  "target_session_attrs",
  "search_path",
  "client_encoding",
  "channel_binding",
  "gssencmode",
  "krbsrvname",
  "requirepeer"
]

// mysql2 connection options usable from a URL, and the MySQL client / SQLAlchemy spellings of the TLS ones.
const mysql = [
  "user",
  "password",
  "ssl",
  "ssl-mode",
  "sslmode",
  "ssl_mode",
  "ssl_ca",
  "ssl_cert",
  "ssl_key",
  "ssl_verify_cert",
  "ssl_verify_identity",
  "rejectUnauthorized",
  "charset",
  "collation",
  "connectTimeout",
  "connect_timeout",
  "timezone",
  "socketPath",
  "unix_socket",
  "dateStrings",
  "supportBigNumbers",
  "bigNumberStrings",
  "decimalNumbers",
  "enableKeepAlive",
  "keepAliveInitialDelay",
  "compress",
  "allowPublicKeyRetrieval",
  "read_timeout",
  "write_timeout",
  "application_name"
]

// SQLite URI parameters (sqlite.org/uri.html) and pragmas the adapter applies on open.
const sqlite = [
  "mode",
  "cache",
  "readonly",
  "immutable",
  "nolock",
  "journal_mode",
  "busy_timeout",
  "timeout",
  "synchronous",
  "foreign_keys",
  "uri",
  "check_same_thread"
]

/** Known option names per dialect. */
export const knownOptions: { readonly [D in Dialect]: ReadonlySet<string> } = {
  postgresql: new Set(postgresql),
  mysql: new Set(mysql),
  sqlite: new Set(sqlite)
}
