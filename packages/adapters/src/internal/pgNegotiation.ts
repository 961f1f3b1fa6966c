/**
 * libpq's `allow` and `prefer` for node-postgres, which has neither: a socket-shaped stream (pg's `stream` option)
 * that negotiates TLS itself and hands pg a plain byte stream, encrypted or not underneath.
 *
 * - prefer: SSLRequest first; the server's "N" (no TLS) continues in plaintext on the same socket. A failed TLS
 *   handshake, or an error as the server's first answer over TLS, is retried once in plaintext on a new socket.
 * - allow: plaintext first; an error as the server's first answer (e.g. a `hostssl`-only pg_hba rule) is retried once
 *   over TLS on a new socket.
 *
 * The retry replays what pg wrote before the server's first answer (the startup packet), so pg never sees it. As in
 * libpq, only a refusal before authentication is retried: a failure after a password exchange is final.
 */
import * as net from "node:net"
import { Duplex } from "node:stream"
import * as tls from "node:tls"

/** SSLRequest: length 8, code 80877103 (PostgreSQL protocol, "Message Formats"). */
const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f])
const ERROR_RESPONSE = 0x45 // "E"

type Attempt = "tls" | "plain"

/** Errors of the negotiation itself, worded as node-postgres words them. */
const noSslAnswer = () => new Error("There was an error establishing an SSL connection")

/** A node-postgres `stream` that negotiates TLS the way libpq's allow / prefer do. */
export class NegotiatingStream extends Duplex {
  readonly #mode: "allow" | "prefer"
  readonly #tlsOptions: tls.ConnectionOptions
  #port = 0
  #host = "localhost"
  #inner: net.Socket | undefined
  readonly #sockets = new Set<net.Socket>()
  #connected = false
  #retried = false
  #attempt: Attempt
  #awaitingAnswer = true
  #startup: Array<Buffer> = []
  #noDelay = true
  #keepAlive: readonly [boolean, number | undefined] | undefined
  #unref = false

  constructor(mode: "allow" | "prefer", tlsOptions: tls.ConnectionOptions) {
    super()
    this.#mode = mode
    this.#tlsOptions = tlsOptions
    this.#attempt = mode === "allow" ? "plain" : "tls"
  }

  /** Whether the connection in use is encrypted (known once connected). */
  get encrypted(): boolean {
    return this.#inner instanceof tls.TLSSocket
  }

  connect(port: number, host: string): this {
    this.#port = port
    this.#host = host
    this.#open(this.#attempt)
    return this
  }

  setNoDelay(noDelay = true): this {
    this.#noDelay = noDelay
    for (const s of this.#sockets) s.setNoDelay(noDelay)
    return this
  }

  setKeepAlive(enable = false, initialDelay?: number): this {
    this.#keepAlive = [enable, initialDelay]
    for (const s of this.#sockets) s.setKeepAlive(enable, initialDelay)
    return this
  }

  ref(): this {
    this.#unref = false
    for (const s of this.#sockets) s.ref()
    return this
  }

  unref(): this {
    this.#unref = true
    for (const s of this.#sockets) s.unref()
    return this
  }

  #open(attempt: Attempt): void {
    this.#attempt = attempt
    const raw = net.connect(this.#port, this.#host)
    this.#track(raw)
    raw.setNoDelay(this.#noDelay)
    if (this.#keepAlive !== undefined) raw.setKeepAlive(this.#keepAlive[0], this.#keepAlive[1])
    if (this.#unref) raw.unref()
    raw.on("error", (e) => this.#failed(raw, e))
    if (attempt === "plain") {
      raw.once("connect", () => this.#ready(raw))
      return
    }
    raw.once("connect", () => raw.write(SSL_REQUEST))
    raw.once("data", (answer: Buffer) => {
      const code = String.fromCharCode(answer[0] ?? 0)
      // Anything after the one-byte answer would be unencrypted data injected before the handshake (CVE-2021-23222).
      if (answer.length > 1) return this.#failed(raw, noSslAnswer())
      if (code === "N" && this.#mode === "prefer") {
        // libpq goes on in plaintext on the same socket, and does not retry a refusal that follows.
        this.#attempt = "plain"
        this.#retried = true
        return this.#ready(raw)
      }
      if (code === "N") return this.#failed(raw, new Error("The server does not support SSL connections"))
      if (code !== "S") return this.#failed(raw, noSslAnswer())
      const secure = tls.connect({
        ...this.#tlsOptions,
        // The key is not enumerable (it must not show when the options are printed): a spread would drop it.
        ...(this.#tlsOptions.key === undefined ? {} : { key: this.#tlsOptions.key }),
        socket: raw,
        host: this.#host,
        // SNI must not be an IP address (RFC 6066, section 3).
        ...(net.isIP(this.#host) === 0 ? { servername: this.#host } : {})
      })
      this.#track(secure)
      secure.on("error", (e) => this.#failed(secure, e))
      secure.once("secureConnect", () => this.#ready(secure))
    })
  }

  #track(socket: net.Socket): void {
    this.#sockets.add(socket)
    socket.once("close", () => {
      const tracked = this.#sockets.delete(socket)
      if (socket === this.#inner) this.destroy()
      // Closed before anything was in use, with nothing else pending: pg must hear of it, not wait for its timeout.
      else if (tracked && this.#inner === undefined && this.#sockets.size === 0 && !this.destroyed) {
        this.#failed(socket, new Error("Connection terminated unexpectedly"))
      }
    })
  }

  /** An attempt failed before the server's first answer: libpq's one retry, or the error for pg. */
  #failed(socket: net.Socket, error: Error): void {
    // Once a socket is in use, only its own errors count (the TCP socket under a TLS one reports them twice).
    if (this.destroyed || (this.#inner !== undefined && socket !== this.#inner)) return
    const handshake = this.#attempt === "tls" && this.#inner === undefined
    if (handshake && this.#mode === "prefer" && !this.#retried && !isSocketError(error)) {
      this.#retry()
      return
    }
    this.destroy(error)
  }

  #retry(): void {
    this.#retried = true
    this.#inner = undefined
    for (const s of [...this.#sockets]) {
      s.removeAllListeners("data")
      s.removeAllListeners("error")
      s.on("error", () => undefined)
      this.#sockets.delete(s)
      s.destroy()
    }
    this.#open(this.#attempt === "tls" ? "plain" : "tls")
  }

  #ready(socket: net.Socket): void {
    this.#inner = socket
    socket.on("data", (chunk: Buffer) => this.#received(socket, chunk))
    socket.on("end", () => {
      if (socket === this.#inner) this.push(null)
    })
    if (!this.#connected) {
      this.#connected = true
      this.emit("connect")
      return
    }
    // A retry: pg already wrote its startup packet to the refused connection.
    for (const chunk of this.#startup) socket.write(chunk)
  }

  #received(socket: net.Socket, chunk: Buffer): void {
    if (socket !== this.#inner) return
    if (this.#awaitingAnswer) {
      this.#awaitingAnswer = false
      if (chunk[0] === ERROR_RESPONSE && !this.#retried && this.#retriesOnRefusal()) {
        this.#awaitingAnswer = true
        this.#retry()
        return
      }
      this.#startup = []
    }
    if (!this.push(chunk)) socket.pause()
  }

  /** allow retries a plaintext refusal over TLS; prefer retries a refusal over TLS in plaintext. */
  #retriesOnRefusal(): boolean {
    return this.#mode === "allow" ? this.#attempt === "plain" : this.#attempt === "tls"
  }

  override _read(): void {
    this.#inner?.resume()
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.#awaitingAnswer) this.#startup.push(chunk)
    const inner = this.#inner
    // Between a refused attempt and its retry the bytes wait in #startup; the retry replays them.
    if (inner === undefined) return callback()
    inner.write(chunk, callback)
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#inner?.end()
    callback()
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    for (const s of this.#sockets) s.destroy()
    this.#sockets.clear()
    callback(error)
  }
}

// A server that cannot be reached is not retried: the other attempt would meet the same closed port.
const unreachable: ReadonlySet<unknown> = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ETIMEDOUT",
  "EADDRNOTAVAIL"
])

const isSocketError = (error: Error): boolean => unreachable.has((error as { code?: unknown }).code)
