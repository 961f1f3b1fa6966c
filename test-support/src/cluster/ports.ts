import { createServer } from "node:net"

const onePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.on("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })

/** `n` distinct free TCP ports on 127.0.0.1 (the kernel picks them, so 5432 / 3306 are never chosen while in use). */
export const freePorts = async (n: number): Promise<Array<number>> => {
  const ports = new Set<number>()
  // Ports are held only briefly, so the same one can come back: ask until n are distinct.
  while (ports.size < n) ports.add(await onePort())
  return [...ports]
}
