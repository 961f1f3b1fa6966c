/**
 * `FastOrm.config`: every option of `FastOrm.layer` read through Effect `Config`, one variable per option (README,
 * "Configuration from the environment"). A variable is parsed, then checked alone by the layer's own check of its
 * section, so one `ConfigError` lists the problems of every variable; problems between variables (unhealthyAfter
 * below degradedAfter, a pool setting of another dialect than the URL's) are checked once every variable is valid.
 * No message repeats a value: a value put in the wrong variable may be a password.
 */
import { ConnectionUrl, validateDatabaseConnection } from "@fastorm/adapters"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import type * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type { ClusterNodes, FastOrmConfig, HealthConfig, NodeConfig, PoolConfig } from "../FastOrm.js"
import type { ReadWriteConfig } from "../ReadWriteConfig.js"
import {
  kinds,
  mentions,
  number,
  ownProblems,
  parse,
  type Section,
  sectionProblems,
  variableName
} from "./configSections.js"
import { weightProblem } from "./nodes.js"

// ---- reading variables ----

const invalid = (message: string) => ConfigError.InvalidData([], message)

/**
 * One variable: unset or empty is `None` (or, when `required` gives an example, a missing-data error); otherwise its
 * trimmed text through `read`. Errors are relative, so `Config.nested` prefixes them like Effect's own configs.
 */
const variable = <A>(
  name: string,
  read: (text: string) => Either.Either<A, string>,
  required?: string
): Config.Config<Option.Option<A>> =>
  Config.nested(
    Config.string().pipe(
      Config.option,
      Config.mapOrFail((raw) => {
        const text = Option.filter(Option.map(raw, (t) => t.trim()), (t) => t.length > 0)
        if (Option.isNone(text)) {
          return required === undefined
            ? Either.right(Option.none())
            : Either.left(ConfigError.MissingData([], required))
        }
        return Either.mapBoth(read(text.value), { onLeft: invalid, onRight: Option.some })
      })
    ),
    name
  )

const ordinal = (i: number): string => ["1st", "2nd", "3rd"][i] ?? `${i + 1}th`

/** A comma-separated variable (or a list, from a structured provider); empty entries are ignored. */
const list = <A>(
  name: string,
  read: (text: string) => Either.Either<A, string>
): Config.Config<Option.Option<ReadonlyArray<A>>> =>
  Config.nested(
    Config.array(Config.string()).pipe(
      Config.option,
      Config.mapOrFail((raw) => {
        const entries = Option.getOrElse(raw, () => []).map((t) => t.trim()).filter((t) => t.length > 0)
        if (entries.length === 0) return Either.right(Option.none())
        const results = entries.map(read)
        const problems = results.flatMap((r, i) => Either.isLeft(r) ? [`the ${ordinal(i)} entry: ${r.left}`] : [])
        return problems.length > 0
          ? Either.left(invalid(problems.join("; ")))
          : Either.right(Option.some(results.map((r) => Either.getOrThrow(r))))
      })
    ),
    name
  )

/** A connection URL, kept `Redacted`; its problems come from the adapters' validation, which never shows a secret. */
const url = (value: string): Either.Either<Redacted.Redacted<string>, string> => {
  const secret = Redacted.make(value)
  const errors = validateDatabaseConnection(secret).filter((p) => p.severity === "error")
  return errors.length === 0 ? Either.right(secret) : Either.left(errors.map((p) => p.message).join("; "))
}

const weight = (value: string) =>
  Either.flatMap(parse(number, value), (w) => {
    const problem = weightProblem(w)
    return problem === undefined ? Either.right(w as number) : Either.left(problem)
  })

const asText = (value: string) => Either.right(value)

const sectionConfig = (section: Section): Config.Config<Record<string, unknown> | undefined> =>
  Config.map(
    Config.all(
      Object.fromEntries(
        Object.entries(kinds[section]).map(([key, kind]) => [
          key,
          variable(variableName(section, key), (value) =>
            Either.flatMap(parse(kind, value), (parsed) => {
              const problems = ownProblems(section, key, parsed)
              return problems.length === 0 ? Either.right(parsed) : Either.left(problems.join("; "))
            }))
        ])
      )
    ),
    (values) => {
      const set = Object.entries(values).flatMap(([key, value]) => Option.isSome(value) ? [[key, value.value]] : [])
      return set.length === 0 ? undefined : Object.fromEntries(set)
    }
  )

// ---- the whole configuration ----

const MISSING_WRITE_URL = "the primary's URL is required, e.g. postgresql://app:secret@db-primary:5432/app " +
  "(mysql://, mariadb:// and sqlite:///app.db work the same way); or every node's URL in FASTORM_NODES"

const nodeVariables = Config.all({
  name: variable("FASTORM_NAME", asText),
  writeUrl: variable("FASTORM_WRITE_URL", url),
  writeName: variable("FASTORM_WRITE_NAME", asText),
  readUrls: list("FASTORM_READ_URLS", url),
  readNames: list("FASTORM_READ_NAMES", asText),
  readWeights: list("FASTORM_READ_WEIGHTS", weight),
  nodeUrls: list("FASTORM_NODES", url),
  nodeNames: list("FASTORM_NODE_NAMES", asText),
  failoverMode: variable(
    "FASTORM_FAILOVER_MODE",
    (text): Either.Either<"promote" | "off", string> =>
      text === "promote" || text === "off" ? Either.right(text) : Either.left("expected one of: promote, off")
  ),
  failoverAdminUrl: variable("FASTORM_FAILOVER_ADMIN_URL", url),
  failoverAfter: variable("FASTORM_FAILOVER_AFTER", (text) => parse({ _tag: "duration" }, text))
})

/** Every variable `config` reads, in the order of the README's table. */
export const variableNames: ReadonlyArray<string> = [
  "FASTORM_NAME",
  "FASTORM_WRITE_URL",
  "FASTORM_WRITE_NAME",
  "FASTORM_READ_URLS",
  "FASTORM_READ_NAMES",
  "FASTORM_READ_WEIGHTS",
  "FASTORM_NODES",
  "FASTORM_NODE_NAMES",
  "FASTORM_FAILOVER_MODE",
  "FASTORM_FAILOVER_ADMIN_URL",
  "FASTORM_FAILOVER_AFTER",
  ...(["readWrite", "health", "pool"] as const).flatMap((s) => Object.keys(kinds[s]).map((k) => variableName(s, k)))
]

/** A problem between options of a section, at the first variable it names. */
const between = (section: Section, problem: string): ConfigError.ConfigError => {
  const names = Object.keys(kinds[section]).filter((k) => mentions(problem, k)).map((k) => variableName(section, k))
  return ConfigError.InvalidData(
    names.slice(0, 1),
    names.length > 1 ? `${problem} (with ${names.slice(1).join(", ")})` : problem
  )
}

const perUrl = (
  name: string,
  values: Option.Option<ReadonlyArray<unknown>>,
  urls: ReadonlyArray<unknown>,
  urlsName = "FASTORM_READ_URLS"
): ReadonlyArray<ConfigError.ConfigError> =>
  Option.isSome(values) && values.value.length !== urls.length
    ? [
      ConfigError.InvalidData(
        [name],
        `${values.value.length} entries for ${urls.length} URLs in ${urlsName}: give one per URL, in order`
      )
    ]
    : []

/** The nodes' variables: a primary and its replicas, or nodes whose roles are learnt; never both, never neither. */
const nodeForm = (nodes: Config.Config.Success<typeof nodeVariables>): ReadonlyArray<ConfigError.ConfigError> => {
  const given = Option.isSome(nodes.nodeUrls)
  const configured = Option.isSome(nodes.writeUrl) || Option.isSome(nodes.readUrls) || Option.isSome(nodes.writeName)
  if (given && configured) {
    return [
      ConfigError.InvalidData(
        ["FASTORM_NODES"],
        "give either FASTORM_NODES (roles learnt from the servers) or FASTORM_WRITE_URL / FASTORM_READ_URLS, not both"
      )
    ]
  }
  if (!given && Option.isNone(nodes.writeUrl)) {
    return [ConfigError.MissingData(["FASTORM_WRITE_URL"], MISSING_WRITE_URL)]
  }
  return Option.isSome(nodes.nodeUrls)
    ? perUrl("FASTORM_NODE_NAMES", nodes.nodeNames, nodes.nodeUrls.value, "FASTORM_NODES")
    : []
}

/** The whole configuration, or one `ConfigError` with every problem. */
export const config: Config.Config<FastOrmConfig> = Config.all({
  nodes: nodeVariables,
  readWrite: sectionConfig("readWrite"),
  health: sectionConfig("health"),
  pool: sectionConfig("pool")
}).pipe(Config.mapOrFail(({ health, nodes, pool, readWrite }) => {
  const form = nodeForm(nodes)
  if (form.length > 0) return Either.left(form.reduce((a, b) => ConfigError.And(a, b)))
  const nodeUrls = Option.getOrUndefined(nodes.nodeUrls)
  const readUrls = Option.getOrElse(nodes.readUrls, () => [])
  const firstUrl = nodeUrls?.[0] ?? Option.getOrThrow(nodes.writeUrl)
  const dialect = Either.match(ConnectionUrl.parseEither(firstUrl), {
    onLeft: () => undefined,
    onRight: (parsed) => parsed.dialect
  })
  const errors: Array<ConfigError.ConfigError> = [
    ...perUrl("FASTORM_READ_NAMES", nodes.readNames, readUrls),
    ...perUrl("FASTORM_READ_WEIGHTS", nodes.readWeights, readUrls)
  ]
  for (const [section, values] of [["readWrite", readWrite], ["health", health], ["pool", pool]] as const) {
    if (values === undefined || dialect === undefined) continue
    for (const problem of sectionProblems(section, values, dialect)) errors.push(between(section, problem))
  }
  if (errors.length > 0) return Either.left(errors.reduce((a, b) => ConfigError.And(a, b)))
  const names = Option.getOrUndefined(nodes.readNames)
  const weights = Option.getOrUndefined(nodes.readWeights)
  const read = readUrls.map((url, i): NodeConfig | Redacted.Redacted<string> =>
    names === undefined && weights === undefined ? url : {
      url,
      ...(names === undefined ? {} : { name: names[i] }),
      ...(weights === undefined ? {} : { weight: weights[i] })
    }
  )
  const writeName = Option.getOrUndefined(nodes.writeName)
  const name = Option.getOrUndefined(nodes.name)
  const nodeNames = Option.getOrUndefined(nodes.nodeNames)
  const cluster: ClusterNodes = nodeUrls !== undefined
    ? { nodes: nodeUrls.map((url, i) => nodeNames === undefined ? url : { url, name: nodeNames[i] }) }
    : {
      write: writeName === undefined ? firstUrl : { url: firstUrl, name: writeName },
      ...(read.length === 0 ? {} : { read })
    }
  const failoverMode = Option.getOrUndefined(nodes.failoverMode)
  const failoverAdmin = Option.getOrUndefined(nodes.failoverAdminUrl)
  if (failoverMode === "promote" && failoverAdmin === undefined) {
    return Either.left(
      ConfigError.MissingData(
        ["FASTORM_FAILOVER_ADMIN_URL"],
        "FASTORM_FAILOVER_MODE=promote needs the URL whose credentials may promote a replica, e.g. " +
          "postgresql://postgres:secret@db/postgres"
      )
    )
  }
  const failoverAfter = Option.getOrUndefined(nodes.failoverAfter)
  const failover = failoverMode === undefined || failoverAdmin === undefined ? {} : {
    failover: {
      mode: failoverMode,
      adminUrl: failoverAdmin,
      ...(failoverAfter === undefined ? {} : { after: failoverAfter as Duration.DurationInput })
    }
  }
  return Either.right<FastOrmConfig>({
    ...cluster,
    ...failover,
    ...(name === undefined ? {} : { name }),
    ...(readWrite === undefined ? {} : { readWrite: readWrite as ReadWriteConfig }),
    ...(health === undefined ? {} : { health: health as HealthConfig }),
    ...(pool === undefined ? {} : { pool: pool as PoolConfig })
  })
}))
