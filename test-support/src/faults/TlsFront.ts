/**
 * Fronts for the TLS tests, in front of a node of the (TLS-enabled) test clusters:
 * - `otherAddress`: the node reached at 127.0.0.2, an address its certificate does not list (a host-name mismatch);
 * - `withoutTls`: the node as a server without TLS looks on the wire: PostgreSQL's SSLRequest is answered "N", and
 *   the TLS flag of MariaDB's greeting is cleared, so a client goes on in plaintext or gives up.
 *
 * `make(node, kind)` is scoped (every socket and the listener close with the scope); `start` is the Promise form.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as net from "node:net"
import type { NodeInfo } from "../cluster/types.js"

/** What the front does. */
export type FrontKind = "otherAddress" | "withoutTls"

/** A running front. */
export interface TlsFront {
  readonly host: string
  readonly port: number
  /** The node's app URL (or any URL of it) pointed at the front. */
  readonly url: (node: NodeInfo | string) => string
  /** Connections that asked for TLS and were declined (`withoutTls`). */
  readonly declined: () => number
  readonly close: () => Promise<void>
}

/** The address of `otherAddress` fronts: loopback on Linux, and in no test certificate. */
export const OTHER_ADDRESS = "127.0.0.2"

const SSL_REQUEST = 80877103
const GSSENC_REQUEST = 80877104
const CLIENT_SSL = 0x0800

/** Points a URL's authority at host:port, leaving user, password, path and query as they are. */
const pointAt = (url: string, host: string, port: number): string =>
  url.replace(/^([a-z][a-z0-9+.-]*:\/\/(?:[^@/?#]*@)?)(\[[^\]]*\]|[^:/?#]*)(?::\d+)?/i, `$1${host}:${port}`)

/** Offset of the capability flags in a MariaDB greeting (protocol 10), or undefined until enough bytes arrived. */
const flagsOffset = (head: Buffer): number | undefined => {
  if (head.length < 5 || head[4] !== 10) return head.length < 5 ? undefined : -1
  const end = head.indexOf(0, 5)
  if (end < 0) return undefined
  const at = end + 1 + 4 + 8 + 1
  return head.length < at + 2 ? undefined : at
}

/** Starts a front for `node` on a free port. */
export const start = (node: NodeInfo, kind: FrontKind): Promise<TlsFront> =>
  new Promise((resolve, reject) => {
    const host = kind === "otherAddress" ? OTHER_ADDRESS : "127.0.0.1"
    const sockets = new Set<net.Socket>()
    let declined = 0
    const track = (s: net.Socket) => {
      sockets.add(s)
      s.on("error", () => undefined)
      s.on("close", () => sockets.delete(s))
    }
    const pipe = (from: net.Socket, to: net.Socket) => {
      from.on("data", (chunk: Buffer) => to.write(chunk))
      from.on("close", () => to.destroy())
    }
    // PostgreSQL: answer "N" to SSLRequest / GSSENCRequest ourselves, forward everything else.
    const declinePg = (client: net.Socket, upstream: net.Socket) => {
      let head = Buffer.alloc(0)
      const first = (chunk: Buffer) => {
        head = Buffer.concat([head, chunk])
        if (head.length < 8) return
        const code = head.readUInt32BE(4)
        if (head.readUInt32BE(0) === 8 && (code === SSL_REQUEST || code === GSSENC_REQUEST)) {
          declined++
          client.write("N")
          // The client answers "N" with its startup packet, which the next chunks bring.
          head = head.subarray(8)
          return
        }
        client.off("data", first)
        upstream.write(head)
        pipe(client, upstream)
      }
      client.on("data", first)
      client.on("close", () => upstream.destroy())
      pipe(upstream, client)
    }
    // MariaDB: clear CLIENT_SSL in the server's greeting.
    const declineMaria = (client: net.Socket, upstream: net.Socket) => {
      let head = Buffer.alloc(0)
      const first = (chunk: Buffer) => {
        head = Buffer.concat([head, chunk])
        const at = flagsOffset(head)
        if (at === undefined) return
        if (at >= 0 && (head.readUInt16LE(at) & CLIENT_SSL) !== 0) {
          declined++
          head.writeUInt16LE(head.readUInt16LE(at) & ~CLIENT_SSL, at)
        }
        upstream.off("data", first)
        client.write(head)
        pipe(upstream, client)
      }
      upstream.on("data", first)
      upstream.on("close", () => client.destroy())
      pipe(client, upstream)
    }
    const server = net.createServer((client) => {
      const upstream = net.connect(node.port, node.host)
      track(client)
      track(upstream)
      client.setNoDelay(true)
      upstream.setNoDelay(true)
      if (kind === "otherAddress") {
        pipe(client, upstream)
        pipe(upstream, client)
      } else if (node.kind === "postgres") declinePg(client, upstream)
      else declineMaria(client, upstream)
    })
    server.once("error", reject)
    server.listen(0, host, () => {
      const port = (server.address() as net.AddressInfo).port
      resolve({
        host,
        port,
        url: (target) => pointAt(typeof target === "string" ? target : target.url, host, port),
        declined: () => declined,
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy()
            server.close(() => done())
          })
      })
    })
  })

/** A front for `node`, closed with the scope. */
export const make = (node: NodeInfo, kind: FrontKind): Effect.Effect<TlsFront, never, Scope.Scope> =>
  Effect.acquireRelease(Effect.promise(() => start(node, kind)), (front) => Effect.promise(() => front.close()))
