/**
 * Declaring relations: the relation values, and `define`, which gives a repository queries that know its relations.
 * Keys are checked when a load is planned (`plan.ts`) and by `check`, so a wrong declaration is a typed
 * `InvalidRelation` before any SQL, never a runtime surprise in the middle of a load.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type { AnyRelation, Kind, Through } from "../../Relations.js"
import type { QueryState } from "../engine.js"
import * as Q from "../query.js"
import type { EagerState } from "./plan.js"
import { plans } from "./plan.js"

/** The constructor of relations of one kind. @internal */
export const relation = <K extends Kind>(kind: K) =>
(
  target: unknown,
  keys: { readonly from: string; readonly to: string; readonly through?: Through }
): any => ({
  _tag: "Relation",
  kind,
  target,
  from: keys.from,
  to: keys.to,
  through: keys.through === undefined ? undefined : { ...keys.through }
})

interface AnyRepository {
  query(): { readonly state: QueryState }
  where(...args: Array<unknown>): { readonly state: QueryState }
}

/** `repository` with `relations`, its queries able to load them. @internal */
export const define = (repository: any, relations: Record<string, AnyRelation>): any => {
  const repo = repository as AnyRepository
  const declared = { ...relations }
  // The state written out field by field: a spread with one more property would leave V8 a slow (dictionary)
  // object, and every later step of the query copies it (a relation-aware query cost ~2.5x a plain one to build).
  const attach = ({ state }: { readonly state: QueryState }) => {
    const eager: EagerState = { declared, plans: [] }
    const attached: Required<QueryState> = {
      info: state.info,
      conditions: state.conditions,
      orders: state.orders,
      limit: state.limit,
      offset: state.offset,
      mode: state.mode,
      lock: state.lock,
      columns: state.columns,
      everything: state.everything,
      error: state.error,
      eager
    }
    return Q.fromState(attached)
  }
  return {
    ...repository,
    relations: declared,
    query: () => attach(repo.query()),
    where: (...args: Array<unknown>) => attach(repo.where(...args))
  }
}

/** Fails with the first problem among the relations of a repository made by `define`. @internal */
export const check = (repository: { readonly relations: Record<string, AnyRelation> }) =>
  Effect.suspend(() => {
    const query = (repository as unknown as AnyRepository).query()
    const checked = plans(query.state.info, repository.relations, Object.keys(repository.relations))
    return Either.isLeft(checked) ? Effect.fail(checked.left as any) : Effect.void
  })
