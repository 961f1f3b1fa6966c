/**
 * Run by `npm run check:packages` in a project where the only driver installed is PostgreSQL's: MySQL and SQLite
 * URLs fail with DriverNotInstalled naming the npm install, and a PostgreSQL adapter and client work (the client
 * really runs pg: a statement to a closed port fails with the driver's ECONNREFUSED).
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import { DatabaseAdapterFactory } from "@fastorm/adapters"
import { FastOrm } from "@fastorm/replication"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

const codeOf = (error: { readonly cause?: unknown }): string => {
  let cause: unknown = error.cause
  for (let depth = 0; depth < 5 && typeof cause === "object" && cause !== null; depth++) {
    const code = (cause as { readonly code?: unknown }).code
    if (typeof code === "string") return code
    cause = (cause as { readonly cause?: unknown }).cause
  }
  return "no code"
}

const program = Effect.gen(function*() {
  for (const url of ["mysql://app:secret@db:3306/app", "sqlite:///app.db"]) {
    const error = yield* Effect.flip(DatabaseAdapterFactory.create(url))
    console.log(`${url.slice(0, url.indexOf(":"))}: ${error._tag}: ${error.message}`)
  }
  const layerError = yield* Effect.flip(Layer.build(FastOrm.layer({ write: "mysql://app:secret@db:3306/app" })))
  console.log(`FastOrm.layer on a mysql URL: ${layerError._tag}`)
  const adapter = yield* DatabaseAdapterFactory.create("postgresql://app:secret@127.0.0.1:9/app", {
    config: { connectTimeout: "2 seconds" }
  })
  const client = yield* adapter.makeClient()
  const failure = yield* Effect.flip(client`SELECT 1`)
  console.log(
    `postgresql: adapter ${adapter.dialect} over ${adapter.driver}; SELECT 1 on a closed port: ${codeOf(failure)}`
  )
})

program.pipe(Effect.scoped, Effect.provide(Reactivity.layer), Effect.runPromise).catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
