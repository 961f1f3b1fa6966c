/**
 * The nodes of `FastOrm.layer` as given (a URL, or a URL with a name and a weight) resolved to one shape, and the
 * checks that need no server.
 */
import * as Data from "effect/Data"
import * as Redacted from "effect/Redacted"
import type { NodeInput } from "../FastOrm.js"

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

/** The nodes do not form one cluster (different dialects, a private in-memory SQLite reader, two equal names). */
export class InvalidCluster extends Data.TaggedError("InvalidCluster")<{ readonly reason: string }> {
  override get message(): string {
    return `Invalid cluster: ${this.reason}`
  }
}
