/**
 * Relations between repositories and their eager loading. Declare them once with `define`, then load them with a
 * query's `with(...)`: one statement per relation level (keys batched in `IN` lists, chunked under the dialect's
 * parameter limit), never one per row, every statement of a load on the same node (README, "Relations").
 */
import type * as Model from "@effect/sql/Model"
import type * as Effect from "effect/Effect"
import type { ReadConnection } from "./Connections.js"
import type { InvalidRelation } from "./Errors.js"
import * as declare from "./internal/relations/declare.js"
import type { Columns, Conditions, Direction, Operator, Query, ValueOf } from "./Query.js"
import type { Repository } from "./Repository.js"

/** The kinds of relation. */
export type Kind = "hasMany" | "hasOne" | "belongsTo" | "manyToMany"

/** Anything a relation can point at: a repository, or one with relations of its own (`define`). */
export interface Target<S extends Model.AnyNoContext = Model.AnyNoContext> {
  readonly model: S
  readonly table: string
  readonly idColumn: string
  readonly columns: ReadonlyArray<string>
  query(): unknown
}

/** The model of a target. */
export type ModelOf<T> = T extends { readonly model: infer S extends Model.AnyNoContext } ? S : never

/** The relations a target declares (`{}` for a plain repository). */
export type RelationsOf<T> = T extends { readonly relations: infer R } ? R : {}

/** The join table of a many-to-many relation: `from` references the parent's key, `to` the target's. */
export interface Through {
  readonly table: string
  readonly from: string
  readonly to: string
}

/**
 * A declared relation of kind `K` to target `T`; `From` is the parent's key column, checked against the parent's
 * columns by `define`.
 */
export interface Relation<K extends Kind, T, From extends string> {
  readonly _tag: "Relation"
  readonly kind: K
  /** The target repository (a function for targets declared later, e.g. cycles). */
  readonly target: T | (() => T)
  /** The parent's column. */
  readonly from: From
  /** The target's column. */
  readonly to: string
  readonly through: Through | undefined
}

/** Any relation. */
export type AnyRelation = Relation<Kind, any, string>

/** Keys of a `hasMany` / `hasOne`: the parent's `from` (usually its id), the target's `to` (its foreign key). */
export interface Keys<T, From extends string> {
  readonly from: From
  readonly to: Columns<ModelOf<T>>
}

/** Options of `manyToMany`: the parent's `from`, the target's `to`, and the join table between them. */
export interface ManyToManyKeys<T, From extends string> extends Keys<T, From> {
  readonly through: Through
}

/** The parent has many target rows whose `to` equals its `from`. */
export const hasMany: <T extends Target, const From extends string>(
  target: T | (() => T),
  keys: Keys<T, From>
) => Relation<"hasMany", T, From> = declare.relation("hasMany")

/** The parent has at most one target row whose `to` equals its `from` (the first in the relation's order). */
export const hasOne: <T extends Target, const From extends string>(
  target: T | (() => T),
  keys: Keys<T, From>
) => Relation<"hasOne", T, From> = declare.relation("hasOne")

/** The parent's `from` (a foreign key) references the target's `to` (usually its id). */
export const belongsTo: <T extends Target, const From extends string>(
  target: T | (() => T),
  keys: Keys<T, From>
) => Relation<"belongsTo", T, From> = declare.relation("belongsTo")

/** Target rows linked to the parent through a join table (`through.from` = parent's `from`, `through.to` = `to`). */
export const manyToMany: <T extends Target, const From extends string>(
  target: T | (() => T),
  keys: ManyToManyKeys<T, From>
) => Relation<"manyToMany", T, From> = declare.relation("manyToMany")

/** A repository whose queries can eager-load the relations `Rels`. */
export type Related<S extends Model.AnyNoContext, Id extends Columns<S>, Rels> =
  & Omit<Repository<S, Id>, "where" | "query">
  & {
    readonly relations: Rels
    /** Starts a query with `column = value`. */
    where<K extends Columns<S>>(column: K, value: ValueOf<S, K>): Query<S, ReadConnection, S["Type"], Rels>
    /** Starts a query with `column <operator> value`. */
    where<K extends Columns<S>>(
      column: K,
      operator: Operator,
      value: ValueOf<S, K>
    ): Query<S, ReadConnection, S["Type"], Rels>
    /** Starts a query with a parenthesised group of conditions. */
    where(group: (query: Conditions<S>) => Conditions<S>): Query<S, ReadConnection, S["Type"], Rels>
    /** Starts an empty query. */
    query(): Query<S, ReadConnection, S["Type"], Rels>
  }

/**
 * Declares `relations` on `repository` and returns it with relation-aware queries. Keys are checked against the
 * models' columns by the types, and again when a load runs (`InvalidRelation`, before any SQL; `check` at startup).
 */
export const define: <
  S extends Model.AnyNoContext,
  Id extends Columns<S>,
  const Rels extends Record<string, Relation<Kind, any, Columns<S>>>
>(repository: Repository<S, Id>, relations: Rels) => Related<S, Id, Rels> = declare.define

/** Fails with the first `InvalidRelation` among the repository's relations (for a check at startup). */
export const check: (repository: { readonly relations: Record<string, AnyRelation> }) => Effect.Effect<
  void,
  InvalidRelation
> = declare.check

// ---- with(...) ----------------------------------------------------------------------------------------------------

/** The target of a relation. */
export type TargetOf<R> = R extends Relation<any, infer T, any> ? T : never

/** How one relation is loaded: a condition on its rows, their order, a limit per parent, nested relations. */
export interface Load<T> {
  /** A group of conditions on the target's rows. */
  readonly where?: ((query: Conditions<ModelOf<T>>) => Conditions<ModelOf<T>>) | undefined
  /** The order of each parent's rows (default: the target's id column). */
  readonly orderBy?:
    | Columns<ModelOf<T>>
    | readonly [column: Columns<ModelOf<T>>, direction: Direction]
    | undefined
  /** At most this many rows per parent (a window over the relation's order). */
  readonly limit?: number | undefined
  /** Relations of the target to load with it. */
  readonly with?: With<RelationsOf<T>> | undefined
}

/** What `with(...)` takes: a relation's name, a list of names, or names with their `Load` options. */
export type With<Rels> = [keyof Rels] extends [never] ? never :
  | (keyof Rels & string)
  | ReadonlyArray<keyof Rels & string>
  | { readonly [K in keyof Rels]?: true | Load<TargetOf<Rels[K]>> }

/** The rows of relation `R` loaded with nested spec `N`. */
export type ResultOf<R, N> = R extends Relation<infer K, infer T, any>
  ? [N] extends [never] ? Shape<K, ModelOf<T>["Type"]>
  : Shape<K, ModelOf<T>["Type"] & Loaded<RelationsOf<T>, N>>
  : never

type Shape<K extends Kind, Row> = K extends "hasMany" | "manyToMany" ? ReadonlyArray<Row> : Row | null

type NestedOf<O> = O extends { readonly with: infer N } ? Exclude<N, undefined> : never

/** The fields `with(W)` adds to each row: `{ posts: ReadonlyArray<Post> }`, `{ author: User | null }`. */
export type Loaded<Rels, W> = W extends string ? { readonly [K in W & keyof Rels]: ResultOf<Rels[K], never> }
  : W extends ReadonlyArray<infer K extends string> ? { readonly [P in K & keyof Rels]: ResultOf<Rels[P], never> }
  : { readonly [K in keyof W & keyof Rels]-?: ResultOf<Rels[K], NestedOf<W[K]>> }
