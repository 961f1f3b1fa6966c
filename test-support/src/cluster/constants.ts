/** Directory of the PostgreSQL 15 binaries (Debian layout). */
export const PG_BIN = "/usr/lib/postgresql/15/bin"

/** Database the application user owns on both clusters. */
export const DATABASE = "fastorm"

/** Application user name on both clusters. */
export const APP_USER = "app"

/** Application user password on both clusters (test-only, listens on 127.0.0.1). */
export const APP_PASSWORD = "app-pw"

/** The user that logs in with a client certificate only (PostgreSQL `hostssl ... cert`, MariaDB `REQUIRE X509`). */
export const CERT_USER = "app_cert"

/** A PostgreSQL user (password `APP_PASSWORD`) that the server refuses over TLS (`hostssl ... reject`). */
export const PLAINTEXT_USER = "app_plaintext"

/** The passphrase of the encrypted copy of the client key (`TlsFiles.clientKeyEncrypted`). */
export const CLIENT_KEY_PASSPHRASE = "client-key-pw"

/** MariaDB replication user. */
export const REPL_USER = "repl"

/** MariaDB replication user password. */
export const REPL_PASSWORD = "repl-pw"

/** Name of the cluster JSON file inside the temp directory. */
export const CLUSTER_FILE_NAME = "cluster.json"

/** Env var that points the test workers at the cluster JSON file. */
export const CLUSTER_FILE_ENV = "FASTORM_CLUSTER_FILE"

/** Replaces every known password in a text, so logs and errors can be shown safely. */
export const redact = (text: string): string =>
  [APP_PASSWORD, REPL_PASSWORD, CLIENT_KEY_PASSPHRASE].reduce((out, secret) => out.split(secret).join("***"), text)
