import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as net from "node:net"
import * as FaultProxy from "../../src/faults/FaultProxy.js"
import { waitUntil } from "../../src/wait.js"

/** An echo server on a free port, closed with the scope. */
const echoServer = Effect.acquireRelease(
  Effect.promise(() =>
    new Promise<{ server: net.Server; port: number; sockets: Set<net.Socket> }>((resolve) => {
      const sockets = new Set<net.Socket>()
      const server = net.createServer((s) => {
        sockets.add(s)
        s.on("close", () => sockets.delete(s))
        s.on("error", () => undefined)
        s.on("data", (d) => s.write(d))
      })
      server.listen(
        0,
        "127.0.0.1",
        () => resolve({ server, port: (server.address() as net.AddressInfo).port, sockets })
      )
    })
  ),
  ({ server, sockets }) =>
    Effect.promise(() =>
      new Promise<void>((done) => {
        for (const s of sockets) s.destroy()
        server.close(() => done())
      })
    )
)

interface Client {
  readonly socket: net.Socket
  readonly received: () => string
  readonly error: () => string | undefined
  readonly closed: () => boolean
}

const connect = (port: number): Effect.Effect<Client> =>
  Effect.async<Client>((resume) => {
    let data = ""
    let error: string | undefined
    let closed = false
    let resumed = false
    const done = () => {
      if (!resumed) {
        resumed = true
        resume(Effect.succeed(client))
      }
    }
    const socket = net.connect(port, "127.0.0.1")
    socket.on("data", (d) => {
      data += d.toString()
    })
    socket.on("error", (e) => {
      error = (e as NodeJS.ErrnoException).code ?? e.message
      done()
    })
    socket.on("close", () => {
      closed = true
    })
    const client: Client = { socket, received: () => data, error: () => error, closed: () => closed }
    socket.on("connect", done)
  })

/** Polls `cond` every 10 ms for up to `ms`; a timeout quotes the condition's source. */
const until = (cond: () => boolean, ms = 2_000) =>
  waitUntil(Effect.sync(cond), (met) => met, { what: String(cond), timeoutMs: ms, intervalMs: 10 })

describe("FaultProxy", { timeout: 10_000 }, () => {
  it.scopedLive("passes bytes both ways and counts them per direction", () =>
    Effect.gen(function*() {
      const echo = yield* echoServer
      const proxy = yield* FaultProxy.make({ target: { host: "127.0.0.1", port: echo.port } })
      const c = yield* connect(proxy.port)
      c.socket.write("hello")
      yield* until(() => c.received() === "hello")
      const stats = yield* proxy.stats
      expect(stats.bytes).toEqual({ toServer: 5, toClient: 5 })
      expect(yield* proxy.connections).toBe(1)
      c.socket.destroy()
      yield* until(() => proxy.unsafe.connections() === 0)
    }))

  it.scopedLive("blackhole: sockets stay open, no byte flows either way, pass resumes", () =>
    Effect.gen(function*() {
      const echo = yield* echoServer
      const proxy = yield* FaultProxy.make({ target: { host: "127.0.0.1", port: echo.port } })
      const c = yield* connect(proxy.port)
      yield* proxy.setMode(FaultProxy.blackhole)
      c.socket.write("lost")
      // New connections are accepted too, and stay silent.
      const c2 = yield* connect(proxy.port)
      c2.socket.write("lost2")
      yield* until(() => echo.sockets.size === 2)
      yield* until(() => proxy.unsafe.stats().dropped.toServer === 9)
      expect(c.received()).toBe("")
      expect(c.closed() || c2.closed()).toBe(false)
      expect(yield* proxy.connections).toBe(2)
      yield* proxy.setMode(FaultProxy.pass)
      c.socket.write("back")
      yield* until(() => c.received() === "back")
    }))

  it.scopedLive("blackholeAfter: a new connection passes its first client chunks and their answers, then goes dark", () =>
    Effect.gen(function*() {
      const echo = yield* echoServer
      const proxy = yield* FaultProxy.make({ target: { host: "127.0.0.1", port: echo.port } })
      const before = yield* connect(proxy.port)
      yield* proxy.setMode(FaultProxy.blackholeAfter(1))
      const c = yield* connect(proxy.port)
      c.socket.write("hi")
      yield* until(() => c.received() === "hi")
      c.socket.write("lost")
      yield* until(() => proxy.unsafe.stats().dropped.toServer === 4)
      expect(c.received()).toBe("hi")
      expect(c.closed()).toBe(false)
      // The mode is taken at accept: an earlier connection keeps passing, and `pass` does not revive a dark one.
      before.socket.write("old")
      yield* until(() => before.received() === "old")
      yield* proxy.setMode(FaultProxy.pass)
      c.socket.write("still lost")
      yield* until(() => proxy.unsafe.stats().dropped.toServer === 14)
      expect(c.received()).toBe("hi")
    }))
  it.scopedLive("reset: existing connections get ECONNRESET at once, new ones on accept", () =>
    Effect.gen(function*() {
      const echo = yield* echoServer
      const proxy = yield* FaultProxy.make({ target: { host: "127.0.0.1", port: echo.port } })
      const c = yield* connect(proxy.port)
      yield* proxy.setMode(FaultProxy.reset)
      yield* until(() => c.error() === "ECONNRESET")
      const c2 = yield* connect(proxy.port)
      yield* until(() => c2.closed())
      expect(c2.error() ?? "ECONNRESET").toBe("ECONNRESET")
      yield* until(() => proxy.unsafe.connections() === 0 && echo.sockets.size === 0)
      expect((yield* proxy.stats).resets).toBe(2)
    }))

  it.scopedLive("latency per direction, per chunk, in order", () =>
    Effect.gen(function*() {
      const echo = yield* echoServer
      const proxy = yield* FaultProxy.make({ target: { host: "127.0.0.1", port: echo.port } })
      const c = yield* connect(proxy.port)
      yield* proxy.setMode(FaultProxy.latency({ toServer: 300, toClient: 200 }))
      const t0 = Date.now()
      c.socket.write("a")
      yield* Effect.sleep("20 millis")
      c.socket.write("b")
      yield* until(() => proxy.unsafe.stats().pending.toServer === 2)
      yield* until(() => c.received() === "ab")
      expect(Date.now() - t0).toBeGreaterThanOrEqual(500)
      yield* proxy.setMode(FaultProxy.pass)
      const t1 = Date.now()
      c.socket.write("c")
      yield* until(() => c.received() === "abc")
      // Under the smaller of the two latencies: no delay is left, with room for a loaded machine's scheduling.
      expect(Date.now() - t1).toBeLessThan(200)
    }))

  it.scopedLive("refuse: closed listener gives ECONNREFUSED, reset-on-accept resets; existing ones keep passing", () =>
    Effect.gen(function*() {
      const echo = yield* echoServer
      const proxy = yield* FaultProxy.make({ target: { host: "127.0.0.1", port: echo.port } })
      const old = yield* connect(proxy.port)
      yield* proxy.setMode(FaultProxy.refuse("close"))
      const refused = yield* connect(proxy.port)
      expect(refused.error()).toBe("ECONNREFUSED")
      old.socket.write("x")
      yield* until(() => old.received() === "x")
      yield* proxy.setMode(FaultProxy.refuse("reset"))
      const reset = yield* connect(proxy.port)
      yield* until(() => reset.closed())
      expect((yield* proxy.stats).refused).toBe(1)
      yield* proxy.setMode(FaultProxy.pass)
      const again = yield* connect(proxy.port)
      again.socket.write("y")
      yield* until(() => again.received() === "y")
    }))

  it.scopedLive("starting in refuse(close) mode refuses from the first connection; pass opens the same port", () =>
    Effect.gen(function*() {
      const echo = yield* echoServer
      const proxy = yield* FaultProxy.make({
        target: { host: "127.0.0.1", port: echo.port },
        mode: FaultProxy.refuse()
      })
      expect((yield* connect(proxy.port)).error()).toBe("ECONNREFUSED")
      yield* proxy.setMode(FaultProxy.pass)
      const c = yield* connect(proxy.port)
      c.socket.write("z")
      yield* until(() => c.received() === "z")
    }))

  it.scopedLive("a target that is down: the client is reset, the failure counted", () =>
    Effect.gen(function*() {
      const port = yield* Effect.scoped(Effect.map(echoServer, (e) => e.port))
      const proxy = yield* FaultProxy.make({ target: { host: "127.0.0.1", port } })
      const c = yield* connect(proxy.port)
      yield* until(() => c.closed())
      yield* until(() => proxy.unsafe.stats().upstreamErrors === 1 && proxy.unsafe.connections() === 0)
    }))

  it.live("closes every socket and the listener with its scope", () =>
    Effect.gen(function*() {
      const { c, port } = yield* Effect.scoped(Effect.gen(function*() {
        const echo = yield* echoServer
        const proxy = yield* FaultProxy.make({ target: { host: "127.0.0.1", port: echo.port } })
        const c = yield* connect(proxy.port)
        return { c, port: proxy.port }
      }))
      yield* until(() => c.closed())
      const after = yield* connect(port)
      expect(after.error()).toBe("ECONNREFUSED")
    }))

  it("rewrites a URL's host and port only", () => {
    expect(FaultProxy.rewriteUrl("postgres://app:p%40ss@127.0.0.1:5433/db?sslmode=disable", 9999)).toBe(
      "postgres://app:p%40ss@127.0.0.1:9999/db?sslmode=disable"
    )
    expect(FaultProxy.rewriteUrl("mysql://root@localhost/db", 1)).toBe("mysql://root@127.0.0.1:1/db")
  })
})
