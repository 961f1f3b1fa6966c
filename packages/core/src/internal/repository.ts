/**
 * The body of `Repository.make`: a plain object per model whose methods resolve their connection when they run.
 * Point reads by id are compiled statements with synchronous encoding and decoding; everything else is a query
 * state handed to the query builder's reads and writes.
 */
import type * as Model from "@effect/sql/Model"
import type * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type { ParseError } from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as CompiledStatement from "../CompiledStatement.js"
import type { ReadConnection, WriteConnection } from "../Connections.js"
import type { ValidationError } from "../Errors.js"
import { InvalidColumn } from "../Errors.js"
import type { Columns } from "../Query.js"
import type { Options, ReadError, ReadOptions, Repository, UpsertOptions } from "../Repository.js"
import * as Codecs from "./columns.js"
import type { RowsDecoder } from "./decodeRows.js"
import { makeDecodeRows } from "./decodeRows.js"
import type { QueryState, TableInfo } from "./engine.js"
import * as engine from "./engine.js"
import * as PatchEncoder from "./patchEncoder.js"
import * as Q from "./query.js"
import * as reads from "./reads.js"
import * as RowDecoder from "./rowDecoder.js"
import * as RowWrites from "./rowWrites.js"
import { upsertMany, upsertOne } from "./upsertMany.js"
import * as validation from "./validation.js"

type Value = validation.Value

type Row = Record<string, unknown>

const structFields = (schema: unknown): Record<string, any> => {
  const fields = (schema as { fields?: Record<string, any> }).fields
  return fields ?? {}
}

/** Builds a repository for `model` stored in `options.table`. */
export const make = <S extends Model.AnyNoContext, const Id extends Columns<S>>(
  model: S,
  options: Options<Id>
): Repository<S, Id> => {
  const table = options.table
  const idColumn: string = options.idColumn
  const columnList = Object.keys(model.fields) as Array<Columns<S>>
  const columns: ReadonlySet<string> = new Set(columnList)
  const tableCheck = validation.checkIdentifier("table", table)
  const idCheck = validation.checkColumn(table, columns, idColumn)
  const fields = model.fields as Record<string, Schema.Schema.AnyNoContext>
  const decodeRows = makeDecodeRows(model)
  const decoders = new Map<string, RowsDecoder>()
  const updateFields = structFields(model.update)
  const info: TableInfo = {
    modelName: String((model as any).identifier ?? table),
    table,
    idColumn,
    columns,
    setupError: Either.isLeft(tableCheck) ? tableCheck.left : Either.isLeft(idCheck) ? idCheck.left : undefined,
    column: Codecs.forModel(fields),
    decodeRows,
    decoderFor: (selected) => {
      if (selected === undefined) return decodeRows
      const key = selected.join(",")
      let decoder = decoders.get(key)
      if (decoder === undefined) {
        const picked: Record<string, Schema.Schema.AnyNoContext> = {}
        for (const column of selected) picked[column] = fields[column]!
        decoder = makeDecodeRows(Schema.Struct(picked))
        decoders.set(key, decoder)
      }
      return decoder
    },
    updatable: new Set(Object.keys(updateFields).filter((key) => columns.has(key))),
    encodePatch: (patch) => encodePatch(patch),
    statements: new Map()
  }
  const setup: Effect.Effect<void, ValidationError> = info.setupError !== undefined
    ? Effect.fail(info.setupError)
    : Effect.void

  const idField = model.fields[idColumn] as any
  const encodeIdStruct = idField !== undefined
    ? Schema.encodeUnknown(Schema.Struct({ [idColumn]: idField }) as unknown as Schema.Schema<any, any, never>)
    : undefined
  const encodeId = (id: unknown): Effect.Effect<Value, ValidationError | ParseError> =>
    Effect.flatMap(
      encodeIdStruct === undefined ? Effect.succeed({ [idColumn]: id }) : encodeIdStruct({ [idColumn]: id }),
      (encoded: Row) => validation.checkValue(idColumn, encoded[idColumn])
    )

  const encodeInsert = Schema.encodeUnknown(model.insert)
  const encodeUpdate = Schema.encodeUnknown(model.update)

  /** Every key must be a safe column name and every value bindable: checked before any SQL. */
  const checkRow = (row: Row): Either.Either<Row, ValidationError> => {
    for (const key of Object.keys(row)) {
      const problem = validation.identifierProblem(key)
      if (problem !== undefined) return Either.left(new InvalidColumn({ table, column: key, reason: problem }))
      const value = validation.checkValue(key, row[key])
      if (Either.isLeft(value)) return Either.left(value.left)
    }
    return Either.right(row)
  }

  const base = (mode: "read" | "write"): QueryState => Q.emptyState(info, mode)
  const query = (mode: "read" | "write") => Q.fromState(base(mode))
  const modeOf = (o: ReadOptions | undefined): "read" | "write" => o?.forceWrite === true ? "write" : "read"

  // The hot path of every ORM: a point read by id. Its SQL is compiled once per dialect (the compiled-statement
  // cache), the id is encoded and the row decoded synchronously; the generic query path would rebuild and
  // recompile the fragments and run the schemas as Effects on every call.
  const encodeIdSync = idField !== undefined
    ? Schema.encodeUnknownEither(Schema.Struct({ [idColumn]: idField }) as unknown as Schema.Schema<any, any, never>)
    : undefined
  const decodeOne = Schema.decodeUnknownEither(model as unknown as Schema.Schema<any, any, never>)
  const fastOne = RowDecoder.compile(model)
  const findSql = new Map<engine.Dialect, CompiledStatement.CompiledStatement>()
  const findSqlFor = (sql: SqlClient.SqlClient): CompiledStatement.CompiledStatement => {
    const dialect = engine.dialectOf(sql)
    let compiled = findSql.get(dialect)
    if (compiled === undefined) {
      compiled = CompiledStatement.make(
        sql`SELECT * FROM ${sql(table)} WHERE ${sql(idColumn)} = ${0} LIMIT 1`.compile()[0]
      )
      findSql.set(dialect, compiled)
    }
    return compiled
  }
  const byIdFast = (
    id: unknown,
    mode: "read" | "write"
  ): Effect.Effect<Option.Option<S["Type"]>, ReadError, ReadConnection | WriteConnection> => {
    if (info.setupError !== undefined) return Effect.fail(info.setupError)
    const encoded = encodeIdSync === undefined ? Either.right({ [idColumn]: id }) : encodeIdSync({ [idColumn]: id })
    if (Either.isLeft(encoded)) return Effect.fail(encoded.left)
    const value = validation.checkValue(idColumn, (encoded.right as Row)[idColumn])
    if (Either.isLeft(value)) return Effect.fail(value.left)
    return engine.withClient(mode, `${table}.find`, (sql) =>
      Effect.flatMap(
        CompiledStatement.run(sql, findSqlFor(sql), [engine.bindValue(engine.dialectOf(sql), value.right)]),
        (rows): Effect.Effect<Option.Option<S["Type"]>, ParseError> => {
          if (rows.length === 0) return Effect.succeedNone
          const fast = fastOne === undefined ? undefined : fastOne(rows[0])
          if (fast !== undefined) return Effect.succeed(Option.some(fast as S["Type"]))
          const row = decodeOne(rows[0])
          return Either.isLeft(row) ? Effect.fail(row.left) : Effect.succeed(Option.some(row.right as S["Type"]))
        }
      ))
  }

  const writes = RowWrites.make(info)
  const { firstOr, insertRow, notFound } = writes

  // Encoding is synchronous on the hot path; a schema that fails synchronously (an error, or one that must run
  // asynchronously) is encoded again by the Effect encoder, which reports the error or runs it.
  const encodeInsertSync = Schema.encodeUnknownEither(model.insert)
  const encodeInsertRow = (data: unknown): engine.Encoded<Row, ValidationError | ParseError> => {
    const encoded = encodeInsertSync(data)
    return Either.isRight(encoded)
      ? checkRow(encoded.right as Row)
      : Effect.flatMap(encodeInsert(data), (row) => checkRow(row as Row))
  }

  const create = (data: unknown) =>
    (info.setupError !== undefined
      ? Effect.fail(info.setupError)
      : engine.encodedThen(encodeInsertRow(data), insertRow))
      .pipe(Effect.catchTag("ModelNotFound", (e) => Effect.die(e)))

  const createMany = (data: ReadonlyArray<unknown>) =>
    Effect.suspend(() => {
      if (info.setupError !== undefined) return Effect.fail(info.setupError)
      if (data.length === 0) return Effect.succeed([])
      return Effect.flatMap(Effect.forEach(data, encodeInsertRow), writes.insertRows)
    }).pipe(Effect.catchTag("ModelNotFound", (e) => Effect.die(e)))

  const patchEncoder = PatchEncoder.cache()

  const encodePatch = (patch: Row): engine.Encoded<Row, ValidationError | ParseError> => {
    const keys = Object.keys(patch).filter((key) => key !== idColumn && patch[key] !== undefined)
    const fields: Record<string, any> = {}
    for (const key of keys) {
      if (!(key in updateFields) || !columns.has(key)) {
        return Either.left(new InvalidColumn({ table, column: key, reason: "not an updatable field of the model" }))
      }
      fields[key] = updateFields[key]
    }
    const picked: Row = {}
    for (const key of keys) picked[key] = patch[key]
    const encoded = patchEncoder(keys, fields)(picked)
    return Either.isRight(encoded)
      ? checkRow(encoded.right as Row)
      : Effect.flatMap(
        Schema.encodeUnknown(Schema.Struct(fields) as unknown as Schema.Schema<any, any, never>)(picked),
        (row) => checkRow(row as Row)
      )
  }

  const encodeIdNow = (id: unknown): engine.Encoded<Value, ValidationError | ParseError> => {
    const encoded = encodeIdSync === undefined ? Either.right({ [idColumn]: id }) : encodeIdSync({ [idColumn]: id })
    if (Either.isLeft(encoded)) return encodeId(id)
    return validation.checkValue(idColumn, (encoded.right as Row)[idColumn])
  }

  const updateRow = writes.updateRow

  const update = (id: unknown, patch: Row) =>
    info.setupError !== undefined
      ? Effect.fail(info.setupError)
      // Nested, not `Effect.zip` (which runs `Effect.all`); encoded synchronously, no step at all.
      : engine.encodedThen(encodeIdNow(id), (encodedId) =>
        engine.encodedThen(encodePatch(patch), (row) => updateRow(encodedId, row)))

  const save = (value: Row) =>
    Effect.gen(function*() {
      yield* setup
      const id = value[idColumn]
      if (id === undefined || id === null) return yield* create(value)
      // Encoded with the update variant, which carries the id (the insert variant drops generated ids).
      const encoded = yield* checkRow((yield* encodeUpdate(value)) as Row)
      const encodedId = encoded[idColumn] as Value
      const rest: Row = { ...encoded }
      delete rest[idColumn]
      return yield* updateRow(encodedId, rest).pipe(
        Effect.catchTag("ModelNotFound", () => insertRow(encoded)),
        Effect.catchTag("ModelNotFound", (e) => Effect.die(e))
      )
    })

  const delete_ = (id: unknown) =>
    info.setupError !== undefined
      ? Effect.fail(info.setupError)
      : engine.encodedThen(encodeIdNow(id), writes.deleteRow)

  const upsertContext = { info, encodeInsert: encodeInsertRow, firstOr }
  const upsert = (data: unknown, upsertOptions: UpsertOptions<string>) =>
    upsertOne(upsertContext, data, upsertOptions).pipe(Effect.catchTag("ModelNotFound", (e) => Effect.die(e)))

  const where = (...args: Array<unknown>) => query("read").where(...args)

  const repository = {
    model,
    table,
    idColumn: options.idColumn,
    columns: columnList,
    isColumn: (name: string): name is Columns<S> => columns.has(name),
    find: (id: unknown, o?: ReadOptions) => byIdFast(id, modeOf(o)),
    findOrFail: (id: unknown, o?: ReadOptions) =>
      Effect.flatMap(
        byIdFast(id, modeOf(o)),
        Option.match({ onNone: () => Effect.fail(notFound(id)), onSome: Effect.succeed })
      ),
    all: (o?: ReadOptions) => reads.get({ ...base(modeOf(o)), orders: [[idColumn, "asc"]] }),
    count: (o?: ReadOptions) => reads.count(base(modeOf(o))),
    first: (o?: ReadOptions) => reads.first({ ...base(modeOf(o)), orders: [[idColumn, "asc"]] }),
    last: (o?: ReadOptions) => reads.first({ ...base(modeOf(o)), orders: [[idColumn, "desc"]] }),
    countWhere: (column: unknown, value: unknown, o?: ReadOptions) => query(modeOf(o)).where(column, value).count(),
    where,
    query: () => query("read"),
    create,
    createMany,
    update,
    save,
    delete: delete_,
    upsert,
    upsertMany: (data: unknown, upsertOptions: UpsertOptions<string>) => upsertMany(upsertContext, data, upsertOptions)
  }
  return repository as any
}
