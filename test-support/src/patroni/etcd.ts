import { mkdirSync } from "node:fs"
import { join } from "node:path"
import { spawnDetached } from "../cluster/proc.js"
import { waitUntilAsync } from "../wait.js"
import { httpJson } from "./http.js"

/** Starts a one-member etcd on 127.0.0.1 in `dir` (its working directory, so the cluster's teardown finds it). */
export const startEtcd = async (
  etcd: string,
  dir: string,
  ports: { readonly client: number; readonly peer: number },
  timeoutMs: number
): Promise<{ readonly pid: number; readonly url: string }> => {
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const url = `http://127.0.0.1:${ports.client}`
  const peer = `http://127.0.0.1:${ports.peer}`
  const logFile = join(dir, "etcd.log")
  const pid = spawnDetached(etcd, [
    "--name=etcd",
    `--data-dir=${join(dir, "data")}`,
    `--listen-client-urls=${url}`,
    `--advertise-client-urls=${url}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=etcd=${peer}`,
    "--initial-cluster-state=new"
  ], { outFile: logFile, cwd: dir })
  await waitUntilAsync(async () => (await httpJson(`${url}/health`)).body, (body) => isHealthy(body), {
    what: `etcd on ${url} to report healthy`,
    timeoutMs,
    intervalMs: 50,
    logFile
  })
  return { pid, url }
}

const isHealthy = (body: unknown): boolean =>
  typeof body === "object" && body !== null && (body as { health?: unknown }).health === "true"
