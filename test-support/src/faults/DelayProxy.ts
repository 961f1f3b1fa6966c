/**
 * A small TCP proxy for fault injection: forwards to a target, optionally delaying every chunk in both directions
 * (a slow network or an overloaded node) or swallowing everything (a blackhole: the socket stays open, no byte
 * passes).
 */
import * as net from "node:net"

/** A running proxy and its controls. */
export interface DelayProxy {
  readonly port: number
  /** Delay, in milliseconds, applied to every chunk in each direction from now on. */
  setDelay(ms: number): void
  /** When on, bytes are swallowed in both directions; connections stay open. */
  setBlackhole(on: boolean): void
  /** Connections currently open through the proxy. */
  openConnections(): number
  close(): Promise<void>
}

/** Starts a proxy on 127.0.0.1 (a free port) in front of `host:port`. */
export const start = (target: { readonly host: string; readonly port: number }): Promise<DelayProxy> =>
  new Promise((resolve, reject) => {
    let delay = 0
    let blackhole = false
    const sockets = new Set<net.Socket>()
    const forward = (from: net.Socket, to: net.Socket) => {
      from.on("data", (chunk) => {
        if (blackhole) return
        if (delay === 0) to.write(chunk)
        // Chunks keep their order: every one waits the same delay from its arrival.
        else setTimeout(() => to.destroyed || to.write(chunk), delay)
      })
      from.on("close", () => setTimeout(() => to.destroy(), delay))
      from.on("error", () => to.destroy())
    }
    const server = net.createServer((client) => {
      const upstream = net.connect(target.port, target.host)
      sockets.add(client)
      sockets.add(upstream)
      client.on("close", () => sockets.delete(client))
      upstream.on("close", () => sockets.delete(upstream))
      forward(client, upstream)
      forward(upstream, client)
    })
    server.on("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address() as net.AddressInfo
      resolve({
        port: address.port,
        setDelay: (ms) => {
          delay = ms
        },
        setBlackhole: (on) => {
          blackhole = on
        },
        openConnections: () => [...sockets].filter((s) => s.localPort === address.port).length,
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy()
            server.close(() => done())
          })
      })
    })
  })
