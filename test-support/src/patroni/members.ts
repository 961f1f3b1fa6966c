import { httpJson } from "./http.js"
import type { PatroniCluster, PatroniMember, PatroniNode } from "./types.js"

/** The members as Patroni's `GET /cluster` lists them, asked of the first node whose REST API answers. */
export const members = async (cluster: PatroniCluster): Promise<Array<PatroniMember>> => {
  const errors: Array<string> = []
  for (const node of cluster.nodes) {
    try {
      const { body, status } = await httpJson(`http://127.0.0.1:${node.restPort}/cluster`)
      const list = (body as { members?: unknown } | undefined)?.members
      if (status === 200 && Array.isArray(list)) return list as Array<PatroniMember>
      errors.push(`${node.name}: HTTP ${status}`)
    } catch (e) {
      errors.push(`${node.name}: ${(e as Error).message}`)
    }
  }
  throw new Error(`no Patroni REST API answered GET /cluster (${errors.join("; ")})`)
}

/** The node of a member. */
export const nodeNamed = (cluster: PatroniCluster, name: string): PatroniNode => {
  const node = cluster.nodes.find((n) => n.name === name)
  if (node === undefined) throw new Error(`Patroni member ${name} is not a node of this cluster`)
  return node
}

/** The member that holds the leader key and runs, if any (Patroni's view: the node may not accept writes yet). */
export const leaderMember = (list: ReadonlyArray<PatroniMember>): PatroniMember | undefined =>
  list.find((m) => m.role === "leader" && m.state === "running")

/** The current leader node (from `GET /cluster`), or undefined while there is none. */
export const leader = async (cluster: PatroniCluster): Promise<PatroniNode | undefined> => {
  const member = leaderMember(await members(cluster))
  return member === undefined ? undefined : nodeNamed(cluster, member.name)
}

/** True when Patroni shows the member as a running replica on the leader's timeline (it can be switched over to). */
export const isHealthyReplica = (member: PatroniMember, leaderOf: PatroniMember): boolean =>
  member.name !== leaderOf.name && (member.state === "running" || member.state === "streaming") &&
  member.timeline !== undefined && member.timeline === leaderOf.timeline
