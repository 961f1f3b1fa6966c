/** Connection services (`ReadConnection`, `WriteConnection`, `WriteOnly`, `DialectFeatures`). */
export * from "./Connections.js"

/** Connection services as a namespace. */
export * as Connections from "./Connections.js"

/** Statements compiled once and run directly, as prepared statements where the driver has them. */
export * as CompiledStatement from "./CompiledStatement.js"

/** Compiled statements streamed batch by batch, rows as arrays where the driver gives them. */
export * as CompiledStream from "./CompiledStream.js"

/** A `Connection` whose statements run through one function (routers, recorders). */
export * as ConnectionWrapper from "./ConnectionWrapper.js"

/** Makers of objects with one fixed shape from arrays of values (a driver's rows), generated once per column list. */
export * as ObjectLiteral from "./ObjectLiteral.js"

/** The SQL dialects FastORM speaks (`"postgresql" | "mysql" | "sqlite"`) and the client's dialect. */
export * as Dialect from "./Dialect.js"

/** `Database.transaction`, `Database.forceWrite`. */
export * as Database from "./Database.js"

/** Typed errors. */
export * as Errors from "./Errors.js"

/** The error classes, also at top level for `Effect.catchTag` users. */
export * from "./Errors.js"

/** @effect/sql's Model (without makeRepository / makeDataLoaders). */
export * as Model from "./Model.js"

/** The immutable query builder. */
export * as Query from "./Query.js"

/** Relations between repositories (`hasMany`, `hasOne`, `belongsTo`, `manyToMany`) and their eager loading. */
export * as Relations from "./Relations.js"

/** `Repository.make(Model, { table, idColumn })`. */
export * as Repository from "./Repository.js"

/** The recording test layer. */
export * as Testing from "./Testing.js"

/** effect's Schema, for model fields. */
export * as Schema from "effect/Schema"
