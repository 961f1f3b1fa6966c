/**
 * The nodes of `FastOrm.layer` as given (a URL, or a URL with a name and a weight) resolved to one shape, and the
 * checks that need no server.
 */
import { ConnectionUrl, ConnectionValidation } from "@fastorm/adapters"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import type { FastOrmConfig, NodeInput } from "../FastOrm.js"

/** A node with its name and weight decided. */
export interface ResolvedNode {
  readonly url: string | Redacted.Redacted<string>
  readonly name: string
  readonly weight: number
}

/** The node in one shape; `name` is its default name ("primary", "replica-1", ...). */
export const normalise = (node: NodeInput, name: string): ResolvedNode =>
  typeof node === "string" || Redacted.isRedacted(node)
    ? { url: node, name, weight: 1 }
    : { url: node.url, name: node.name ?? name, weight: node.weight ?? 1 }

/** The replicas as a list: `read` takes one node or several. */
export const listOf = (read: NodeInput | ReadonlyArray<NodeInput> | undefined): ReadonlyArray<NodeInput> =>
  read === undefined ? [] : Array.isArray(read) ? read : [read as NodeInput]

/** What is wrong with a node's weight (a share of reads: 0 takes it out of ordinary reads), if anything. */
export const weightProblem = (weight: unknown): string | undefined =>
  typeof weight === "number" && Number.isFinite(weight) && weight >= 0
    ? undefined
    : "weight must be a finite number >= 0"

/** The configuration does not describe one cluster (an unknown option, no node, different dialects, ...). */
export class InvalidCluster extends Data.TaggedError("InvalidCluster")<{ readonly reason: string }> {
  override get message(): string {
    return `Invalid cluster: ${this.reason}`
  }
}

// Every key of `FastOrmConfig`, in the order errors list them (the type keeps the list complete).
const optionKeys: { readonly [K in keyof FastOrmConfig]-?: true } = {
  name: true,
  write: true,
  read: true,
  nodes: true,
  readWrite: true,
  health: true,
  pool: true,
  failover: true
}
const options: ReadonlyArray<string> = Object.keys(optionKeys)

/**
 * What is wrong with the configuration's shape, which the types rule out but JavaScript and hand-built objects do
 * not: a key it does not know (a misspelt `reads` would leave the cluster without replicas, in silence), no node, or
 * both ways of giving the nodes.
 */
export const shapeProblems = (config: unknown): ReadonlyArray<string> => {
  if (typeof config !== "object" || config === null || Array.isArray(config)) {
    return ["the configuration must be an object"]
  }
  const problems: Array<string> = []
  for (const key of Object.keys(config)) {
    if (options.includes(key)) continue
    problems.push(
      ConnectionValidation.isPrintableName(key)
        ? `unknown option "${key}" (options: ${options.join(", ")})`
        : "an option with an unexpected name (not shown)"
    )
  }
  const given = config as { readonly write?: unknown; readonly read?: unknown; readonly nodes?: unknown }
  if (given.nodes !== undefined && (given.write !== undefined || given.read !== undefined)) {
    problems.push("give write (and read) or nodes, not both")
  } else if (given.nodes === undefined && given.write === undefined) {
    problems.push(given.read === undefined ? "no node is given: give write (and read), or nodes" : "read needs write")
  }
  return problems
}

/** The nodes as given, named: the configured primary first (`write` / `read`), or every node (`nodes`). */
export const nodesOf = (config: FastOrmConfig) =>
  config.nodes !== undefined
    ? { learnt: true as const, nodes: listOf(config.nodes).map((node, i) => normalise(node, `node-${i + 1}`)) }
    : {
      learnt: false as const,
      nodes: [
        normalise(config.write, "primary"),
        ...listOf(config.read).map((node, i) => normalise(node, `replica-${i + 1}`))
      ]
    }

/**
 * Every check of the nodes that needs no server: names, weights, one dialect, no private in-memory reader. Each check
 * lists every problem of its kind in one `InvalidCluster` (names and weights first, then, the URLs parsed, dialects).
 */
export const checkNodes = (nodes: ReadonlyArray<ResolvedNode>, learnt: boolean) =>
  Effect.gen(function*() {
    if (nodes.length === 0) return yield* new InvalidCluster({ reason: "no node is given" })
    const reasons: Array<string> = []
    const names = nodes.map((n) => n.name)
    if (new Set(names).size !== names.length) reasons.push("two nodes have the same name")
    for (const node of nodes) {
      const problem = weightProblem(node.weight)
      if (problem !== undefined) reasons.push(`${node.name}'s ${problem}`)
    }
    if (reasons.length > 0) return yield* new InvalidCluster({ reason: reasons.join("; ") })
    const urls = yield* Effect.forEach(nodes, (node) => ConnectionUrl.parse(node.url))
    const first = urls[0]!
    for (const [i, url] of urls.entries()) {
      if (url.dialect !== first.dialect) {
        reasons.push(`${nodes[i]!.name} is ${url.dialect}, ${nodes[0]!.name} is ${first.dialect}`)
      } else if (i > 0 && url.dialect === "sqlite" && url.filename === ":memory:") {
        reasons.push(
          `${nodes[i]!.name} is sqlite://:memory:, a private in-memory database that cannot see the primary's ` +
            "data: read the primary's own file (sqlite:///app.db), or give no read URL"
        )
      }
    }
    if (learnt && first.dialect === "sqlite") {
      reasons.push("SQLite has one writer and no replication: give it as write / read, not as nodes")
    }
    if (reasons.length > 0) return yield* new InvalidCluster({ reason: reasons.join("; ") })
    return urls
  })
