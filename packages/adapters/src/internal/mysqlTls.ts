/**
 * The mysql2 options for one node's TLS settings, shared by the pool and the health probe (README, "TLS").
 *
 * mysql2 has no PREFERRED: with `ssl` set it refuses a server without TLS (HANDSHAKE_NO_SSL_SUPPORT). For PREFERRED
 * the connection's socket comes from a `stream` factory that reads the server's greeting before mysql2 does and, when
 * the server does not offer TLS, turns TLS off for that one connection (mysql2 gives each pooled connection its own
 * copy of the configuration), as the MySQL client does.
 *
 * VERIFY_IDENTITY on an IP address needs the same socket: mysql2 sets no `servername` for an IP and passes Node no
 * host, so Node checks the certificate against "localhost" (measured with mysql2 3.24: a certificate for localhost
 * passed for 127.0.0.2). The socket carries the address Node's check falls back to.
 */
import * as Redacted from "effect/Redacted"
import * as net from "node:net"
import type { TlsSettings } from "./tlsFiles.js"

/** mysql2's `ssl` options as FastORM sets them. */
export interface MysqlSslOptions {
  readonly rejectUnauthorized: boolean
  /** mysql2's own switch for the host-name check (VERIFY_IDENTITY). */
  readonly verifyIdentity: boolean
  readonly ca?: Buffer
  readonly cert?: Buffer
  readonly key?: Buffer
}

/** The slice of mysql2's per-connection configuration the PREFERRED stream reads and writes. */
interface StreamConfig {
  readonly host?: string | undefined
  readonly port?: number | undefined
  readonly enableKeepAlive?: boolean | undefined
  readonly keepAliveInitialDelay?: number | undefined
  ssl: unknown
}

/** What a mysql2 `createPool` / `createConnection` configuration takes for TLS. */
export interface MysqlTlsOptions {
  readonly ssl?: MysqlSslOptions | undefined
  readonly stream?: ((options: { readonly config: StreamConfig }) => net.Socket) | undefined
}

const CLIENT_SSL = 0x0800

/**
 * The capability flags of a server greeting (protocol 10): after the packet header, the protocol byte, the
 * NUL-terminated version, the thread id (4), the first scramble part (8) and a filler (1). "incomplete" until enough
 * bytes arrived; undefined for anything else (an error packet: mysql2 reports it).
 */
export const greetingFlags = (head: Buffer): number | "incomplete" | undefined => {
  if (head.length < 5) return "incomplete"
  if (head[4] !== 10) return undefined
  const end = head.indexOf(0, 5)
  if (end < 0) return "incomplete"
  const at = end + 1 + 4 + 8 + 1
  return head.length < at + 2 ? "incomplete" : head.readUInt16LE(at)
}

/**
 * A socket for mysql2: for PREFERRED, drops TLS from this connection's configuration when the server does not offer
 * it; for an IP address, names it as the host Node checks the certificate against.
 */
const socketFor = (preferred: boolean) => (options: { readonly config: StreamConfig }): net.Socket => {
  const { config } = options
  const host = config.host ?? "localhost"
  const socket = net.connect(config.port ?? 3306, host)
  // What mysql2 does for the sockets it opens itself.
  socket.setNoDelay(true)
  if (config.enableKeepAlive === true) {
    socket.on("connect", () => socket.setKeepAlive(true, config.keepAliveInitialDelay))
  }
  // Node's TLS checks `servername || host || socket._host`; net leaves `_host` unset for an IP address.
  if (net.isIP(host) !== 0) (socket as unknown as { _host: string })._host = host
  if (!preferred) return socket
  let head = Buffer.alloc(0)
  // Registered before mysql2's own listener, so it sees the greeting first.
  const peek = (chunk: Buffer) => {
    head = Buffer.concat([head, chunk])
    const flags = greetingFlags(head)
    if (flags === "incomplete") return
    socket.off("data", peek)
    if (flags !== undefined && (flags & CLIENT_SSL) === 0) config.ssl = false
  }
  socket.on("data", peek)
  return socket
}

/** The mysql2 configuration fields for these settings. */
export const mysqlTlsOptions = (settings: TlsSettings): MysqlTlsOptions => {
  if (settings.mode === "disable") return {}
  const ssl: MysqlSslOptions = {
    rejectUnauthorized: settings.verification !== "none",
    verifyIdentity: settings.verification === "chain-and-host",
    ...(settings.ca === undefined ? {} : { ca: settings.ca }),
    ...(settings.cert === undefined ? {} : { cert: settings.cert })
  }
  // Non-enumerable: a configuration printed or spread never shows key material (mysql2 reads it by name).
  if (settings.key !== undefined) {
    Object.defineProperty(ssl, "key", { value: Redacted.value(settings.key), enumerable: false })
  }
  if (settings.mode === "prefer") return { ssl, stream: socketFor(true) }
  return settings.verification === "chain-and-host" ? { ssl, stream: socketFor(false) } : { ssl }
}
