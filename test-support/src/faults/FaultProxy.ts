/**
 * A TCP fault proxy placed in front of any node: forwards bytes to the node and, on command, blackholes them, resets
 * connections, adds latency per direction, or refuses new connections. It counts bytes per direction and live
 * connections, so a test can also prove that its client's sockets return to their baseline.
 *
 * `FaultProxy.make({ target })` is scoped: every socket and the listener close when the scope closes.
 * `start(...)` is the same proxy for plain Promise code.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as net from "node:net"
import type { NodeInfo } from "../cluster/types.js"
import type { Direction, Mode, Stats } from "./proxyModes.js"
import { pass } from "./proxyModes.js"

export * from "./proxyModes.js"

/** A running proxy (Promise form). */
export interface RunningProxy {
  readonly port: number
  readonly host: "127.0.0.1"
  setMode(mode: Mode): Promise<void>
  stats(): Stats
  /** Client connections open now. */
  connections(): number
  /** The node's URL (or any URL) with its host:port replaced by the proxy's. */
  url(node: NodeInfo | string): string
  close(): Promise<void>
}

/** What to proxy. */
export interface ProxyOptions {
  readonly target: { readonly host: string; readonly port: number }
  /** Initial mode; default pass. */
  readonly mode?: Mode | undefined
}

interface Pair {
  readonly client: net.Socket
  readonly upstream: net.Socket
  /** Per direction: the time before which no chunk may be delivered (keeps order when latency changes). */
  readonly nextAt: { toServer: number; toClient: number }
  /** Client chunks let through before the pair goes dark (`BlackholeAfter` at its accept); undefined: no such limit. */
  readonly passChunks: number | undefined
  /** Client chunks seen so far. */
  chunks: number
}

/** True once the pair has seen more client chunks than it lets through. */
const isDark = (pair: Pair): boolean => pair.passChunks !== undefined && pair.chunks > pair.passChunks

/** How long `close` waits for the listener to close once every socket was destroyed. */
const CLOSE_BOUND_MS = 5_000

/** Rewrites the authority of a URL to 127.0.0.1:port, keeping user, password, path and query untouched. */
export const rewriteUrl = (url: string, port: number): string =>
  url.replace(/^([a-z][a-z0-9+.-]*:\/\/(?:[^@/?#]*@)?)(\[[^\]]*\]|[^:/?#]*)(?::\d+)?/i, `$1127.0.0.1:${port}`)

/** Starts a proxy on 127.0.0.1 (a free port) in front of `target`. */
export const start = (options: ProxyOptions): Promise<RunningProxy> =>
  new Promise((resolve, reject) => {
    let mode: Mode = options.mode ?? pass
    const pairs = new Set<Pair>()
    // Every client socket accepted and not yet closed, paired or not.
    const accepted = new Set<net.Socket>()
    const counters = {
      bytes: { toServer: 0, toClient: 0 },
      dropped: { toServer: 0, toClient: 0 },
      pending: { toServer: 0, toClient: 0 },
      accepted: 0,
      resets: 0,
      refused: 0,
      upstreamErrors: 0
    }
    let port = 0
    let listening = false
    let closed = false

    const resetPair = (pair: Pair) => {
      counters.resets++
      if (!pair.client.destroyed) pair.client.resetAndDestroy()
      if (!pair.upstream.destroyed) pair.upstream.resetAndDestroy()
    }

    const forward = (pair: Pair, direction: Direction) => {
      const from = direction === "toServer" ? pair.client : pair.upstream
      const to = direction === "toServer" ? pair.upstream : pair.client
      from.on("data", (chunk: Buffer) => {
        if (direction === "toServer") pair.chunks++
        if (isDark(pair) || mode._tag === "Blackhole" || mode._tag === "Reset") {
          counters.dropped[direction] += chunk.length
          return
        }
        const delay = mode._tag === "Latency" ? (direction === "toServer" ? mode.toServerMs : mode.toClientMs) : 0
        const now = Date.now()
        const at = Math.max(now + delay, pair.nextAt[direction])
        pair.nextAt[direction] = at
        const deliver = () => {
          if (at > now) counters.pending[direction] -= chunk.length
          // A blackhole switched on while the chunk waited swallows it too.
          if (to.destroyed || isDark(pair) || mode._tag === "Blackhole" || mode._tag === "Reset") {
            counters.dropped[direction] += chunk.length
            return
          }
          counters.bytes[direction] += chunk.length
          to.write(chunk)
        }
        if (at <= now) deliver()
        else {
          counters.pending[direction] += chunk.length
          setTimeout(deliver, at - now)
        }
      })
      // A graceful end is forwarded once the delayed chunks are out; an error becomes a reset of the other side.
      from.on("end", () => {
        const wait = Math.max(0, pair.nextAt[direction] - Date.now())
        setTimeout(() => {
          if (!to.destroyed) to.end()
        }, wait)
      })
      from.on("error", () => {
        if (!to.destroyed) to.resetAndDestroy()
      })
      from.on("close", () => {
        const wait = Math.max(0, pair.nextAt[direction] - Date.now())
        setTimeout(() => {
          if (!to.destroyed) to.destroy()
          pairs.delete(pair)
        }, wait)
      })
    }

    const server = net.createServer((client) => {
      counters.accepted++
      accepted.add(client)
      client.once("close", () => accepted.delete(client))
      if (mode._tag === "Reset" || (mode._tag === "Refuse" && mode.how === "reset")) {
        if (mode._tag === "Reset") counters.resets++
        else counters.refused++
        client.on("error", () => undefined)
        client.resetAndDestroy()
        return
      }
      const upstream = net.connect(options.target.port, options.target.host)
      let connected = false
      upstream.once("connect", () => {
        connected = true
      })
      upstream.on("error", () => {
        if (!connected) counters.upstreamErrors++
      })
      const pair: Pair = {
        client,
        upstream,
        nextAt: { toServer: 0, toClient: 0 },
        passChunks: mode._tag === "BlackholeAfter" ? mode.toServerChunks : undefined,
        chunks: 0
      }
      pairs.add(pair)
      client.setNoDelay(true)
      upstream.setNoDelay(true)
      forward(pair, "toServer")
      forward(pair, "toClient")
    })

    const listen = (p: number) =>
      new Promise<void>((done, fail) => {
        const onError = (e: Error) => fail(e)
        server.once("error", onError)
        server.listen(p, "127.0.0.1", () => {
          server.off("error", onError)
          listening = true
          port = (server.address() as net.AddressInfo).port
          done()
        })
      })

    const stopListening = () =>
      new Promise<void>((done) => {
        if (!listening) return done()
        listening = false
        // Resolves once the listener is closed; open connections are not waited for.
        server.close(() => undefined)
        done()
      })

    const setMode = async (next: Mode): Promise<void> => {
      if (closed) return
      mode = next
      if (next._tag === "Reset") { for (const pair of [...pairs]) resetPair(pair) }
      if (next._tag === "Refuse" && next.how === "close") await stopListening()
      else if (!listening) await listen(port)
    }

    const stats = (): Stats => ({
      bytes: { ...counters.bytes },
      dropped: { ...counters.dropped },
      pending: { ...counters.pending },
      open: pairs.size,
      accepted: counters.accepted,
      resets: counters.resets,
      refused: counters.refused,
      upstreamErrors: counters.upstreamErrors,
      mode
    })

    const close = () =>
      new Promise<void>((done, fail) => {
        if (closed) return done()
        closed = true
        for (const pair of pairs) pair.upstream.destroy()
        pairs.clear()
        // Every client socket, paired or not (one reset on accept may not have closed yet).
        for (const client of accepted) client.destroy()
        if (!listening) return done()
        listening = false
        // The listener's close waits for every accepted socket to close: bounded, so a socket that would not close
        // fails the test that owns the proxy instead of hanging it.
        const bound = setTimeout(() => {
          server.getConnections((_, open) =>
            fail(
              new Error(`FaultProxy ${port}: ${open} accepted socket(s) still open ${CLOSE_BOUND_MS} ms after close`)
            )
          )
        }, CLOSE_BOUND_MS)
        server.close(() => {
          clearTimeout(bound)
          done()
        })
      })

    listen(0).then(
      async () => {
        // An initial "refuse by closing" mode: the port is reserved, then the listener closed.
        if (mode._tag === "Refuse" && mode.how === "close") await stopListening()
        resolve({
          port,
          host: "127.0.0.1",
          setMode,
          stats,
          connections: () => pairs.size,
          url: (node) => rewriteUrl(typeof node === "string" ? node : node.url, port),
          close
        })
      },
      reject
    )
  })

/** A proxy under Effect: controls are Effects, the proxy closes with its scope. */
export interface FaultProxy {
  readonly port: number
  readonly host: "127.0.0.1"
  /** The node's app URL (or any URL) pointed at the proxy. */
  readonly url: (node: NodeInfo | string) => string
  readonly setMode: (mode: Mode) => Effect.Effect<void>
  readonly stats: Effect.Effect<Stats>
  /** Client connections open now. */
  readonly connections: Effect.Effect<number>
  /** The Promise form underneath. */
  readonly unsafe: RunningProxy
}

/** Starts a proxy in front of `target`, closed (every socket and the listener) when the scope closes. */
export const make = (options: ProxyOptions): Effect.Effect<FaultProxy, never, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(Effect.promise(() => start(options)), (proxy) => Effect.promise(() => proxy.close())),
    (proxy): FaultProxy => ({
      port: proxy.port,
      host: proxy.host,
      url: proxy.url,
      setMode: (mode) => Effect.promise(() => proxy.setMode(mode)),
      stats: Effect.sync(() => proxy.stats()),
      connections: Effect.sync(() => proxy.connections()),
      unsafe: proxy
    })
  )

/** A proxy in front of a cluster node. */
export const forNode = (node: NodeInfo, mode?: Mode): Effect.Effect<FaultProxy, never, Scope.Scope> =>
  make({ target: { host: node.host, port: node.port }, mode })
