/**
 * `npm run check:packages`: the packages as a user outside this repository meets them. Builds, packs every public
 * package, lints each tarball (publint, @arethetypeswrong/cli), installs the tarballs into scratch projects under
 * os.tmpdir(), and then:
 *   (a) runs the SQLite quick start and every package README's snippet with plain `node` (no tsx, no conditions);
 *   (b) type-checks them as a consumer: strict, exactOptionalPropertyTypes, noUncheckedIndexedAccess, skipLibCheck off;
 *   (c) installs beside only PostgreSQL's driver: MySQL and SQLite URLs fail with DriverNotInstalled, PostgreSQL works;
 *   (d) installs the libraries (not the `fastorm` command) beside the lowest versions the peer ranges allow and shows
 *       one copy of effect in the tree.
 * Every command runs with a time limit. FASTORM_CHECK_KEEP=1 keeps the scratch directory.
 */
import { Drivers } from "@fastorm/adapters"
import { spawnSync } from "node:child_process"
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync
} from "node:fs"
import { tmpdir } from "node:os"
import { basename, dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const started = Date.now()
const seconds = (since: number) => `${((Date.now() - since) / 1000).toFixed(1)} s`

interface PackageJson {
  readonly name: string
  readonly version: string
  readonly private?: boolean
  readonly workspaces?: ReadonlyArray<string>
  readonly peerDependencies?: Readonly<Record<string, string>>
  readonly peerDependenciesMeta?: Readonly<Record<string, { readonly optional?: boolean }>>
  readonly devDependencies?: Readonly<Record<string, string>>
  readonly bin?: Readonly<Record<string, string>>
}

const readJson = <A>(path: string): A => JSON.parse(readFileSync(path, "utf8")) as A

/** Runs a command to completion within `minutes`; fails the check with its output otherwise. */
const run = (
  cmd: string,
  args: ReadonlyArray<string>,
  options: { readonly cwd: string; readonly minutes?: number; readonly allowFailure?: boolean }
): { readonly status: number; readonly out: string } => {
  // Plain processes: no NODE_OPTIONS (tsx's loader, a condition) leaks from this script into what it checks.
  const { NODE_OPTIONS: _, ...env } = process.env
  const result = spawnSync(cmd, args, {
    cwd: options.cwd,
    env: { ...env, npm_config_audit: "false", npm_config_fund: "false", npm_config_update_notifier: "false" },
    encoding: "utf8",
    timeout: (options.minutes ?? 2) * 60_000,
    maxBuffer: 64 * 1024 * 1024
  })
  const out = `${result.stdout ?? ""}${result.stderr ?? ""}`
  const status = result.status ?? -1
  if (status !== 0 && options.allowFailure !== true) {
    const why = result.error !== undefined ? ` (${result.error.message})` : ""
    throw new Error(`${cmd} ${args.join(" ")} failed in ${options.cwd}${why}:\n${out}`)
  }
  return { status, out }
}

const step = (title: string) => console.log(`\n== ${title}`)
const show = (text: string, indent = "   ") =>
  console.log(text.trimEnd().split("\n").map((line) => indent + line).join("\n"))
const expectIn = (text: string, wanted: string, what: string) => {
  if (!text.includes(wanted)) throw new Error(`${what}: expected to find ${JSON.stringify(wanted)} in:\n${text}`)
}

// ---- the packages ---------------------------------------------------------------------------------------------

const rootJson = readJson<PackageJson>(join(root, "package.json"))
const packages = (rootJson.workspaces ?? [])
  .map((dir) => ({ dir: join(root, dir), json: readJson<PackageJson>(join(root, dir, "package.json")) }))
  .filter((p) => p.json.private !== true)

const scratch = mkdtempSync(join(tmpdir(), "fastorm-packages-"))
const tarballDir = join(scratch, "tarballs")
mkdirSync(tarballDir)

try {
  step("build (tsc -b): dist/ of every package")
  const t = Date.now()
  run("npm", ["run", "build"], { cwd: root, minutes: 10 })
  console.log(`   ok (${seconds(t)})`)

  step(`pack ${packages.length} public packages`)
  const tarballs: Array<string> = []
  for (const { dir, json } of packages) {
    const [packed] = JSON.parse(run("npm", ["pack", "--json", "--pack-destination", tarballDir], { cwd: dir }).out) as [
      { readonly filename: string; readonly size: number; readonly files: ReadonlyArray<{ readonly path: string }> }
    ]
    const files = packed.files.map((f) => f.path)
    const stray = files.filter((f) =>
      !/^(dist\/.*\.(js|d\.ts)(\.map)?|src\/.*\.ts|package\.json|README\.md|LICENSE)$/.test(f)
    )
    if (stray.length > 0) throw new Error(`${json.name} packs files a user does not need: ${stray.join(", ")}`)
    for (const needed of ["dist/index.js", "dist/index.d.ts", "README.md", "LICENSE"]) {
      if (!files.includes(needed)) throw new Error(`${json.name} does not pack ${needed}`)
    }
    const count = (prefix: string) => files.filter((f) => f.startsWith(prefix)).length
    console.log(
      `   ${packed.filename}: ${files.length} files (dist ${count("dist/")}, src ${count("src/")}), ${
        Math.round(packed.size / 1024)
      } kB`
    )
    tarballs.push(join(tarballDir, packed.filename))
  }

  step("publint and @arethetypeswrong/cli on every tarball")
  for (const [i, { dir, json }] of packages.entries()) {
    const tarball = tarballs[i]!
    const lint = run("npx", ["publint", "run", "--strict", tarball], { cwd: root })
    expectIn(lint.out, "All good!", `publint ${json.name}`)
    // Every public module is an entry point (exports "./*"); internal/ is closed.
    const entrypoints = [
      ".",
      ...readdirSync(join(dir, "src")).filter((f) => f.endsWith(".ts") && f !== "index.ts").map((f) =>
        `./${f.slice(0, -3)}`
      )
    ]
    // ESM only: node10 and require() resolutions do not apply (the esm-only profile leaves them out).
    const attw = run("npx", [
      "attw",
      tarball,
      "--profile",
      "esm-only",
      "--format",
      "json",
      "--entrypoints",
      ...entrypoints
    ], {
      cwd: root,
      allowFailure: true
    })
    const report = JSON.parse(attw.out.slice(attw.out.indexOf("{"))) as {
      readonly problems?: Readonly<Record<string, ReadonlyArray<{ readonly resolutionKind?: string }>>>
    }
    const problems = Object.values(report.problems ?? {}).flat().filter((p) =>
      p.resolutionKind !== "node10" && p.resolutionKind !== "node16-cjs"
    )
    if (attw.status !== 0 || problems.length > 0) throw new Error(`attw ${json.name}:\n${attw.out}`)
    console.log(`   ${json.name}: publint all good; attw no problems on ${entrypoints.length} entry points`)
  }

  // ---- the consumer ---------------------------------------------------------------------------------------------

  const typescript = readJson<PackageJson>(join(root, "node_modules", "typescript", "package.json")).version
  const typesNode = readJson<PackageJson>(join(root, "node_modules", "@types", "node", "package.json")).version
  const driverSpecs = (driver: keyof typeof Drivers.packagesOf) =>
    Drivers.packagesOf[driver].map((p) => `${p.name}@${p.version}`)
  const snippets = packages.map(({ dir, json }) => {
    const readme = readFileSync(join(dir, "README.md"), "utf8")
    const code = /```ts\n([\s\S]*?)```/.exec(readme)?.[1]
    if (code === undefined) throw new Error(`${json.name}: README.md has no ts snippet`)
    return { file: `readme-${basename(dir)}.ts`, code }
  })

  /** Indices of every package, and of the libraries (the packages without a `bin`). */
  const all = packages.map((_, i) => i)
  const libraries = all.filter((i) => packages[i]!.json.bin === undefined)

  /** A scratch project with the tarballs of `only`, `extra` packages and the consumer's sources, type-checked. */
  const makeProject = (name: string, extra: ReadonlyArray<string>, only: ReadonlyArray<number> = all) => {
    const dir = join(scratch, name)
    mkdirSync(join(dir, "src"), { recursive: true })
    writeFileSync(
      join(dir, "package.json"),
      JSON.stringify({ name: `fastorm-check-${name}`, private: true, type: "module" })
    )
    const t = Date.now()
    const chosen = only.map((i) => tarballs[i]!)
    run("npm", ["install", ...chosen, ...extra, `typescript@${typescript}`, `@types/node@${typesNode}`], {
      cwd: dir,
      minutes: 15
    })
    console.log(`   npm install ${extra.join(" ")} + the ${chosen.length} tarballs: ok (${seconds(t)})`)
    copyFileSync(join(root, "scripts", "consumer", "tsconfig.json"), join(dir, "tsconfig.json"))
    copyFileSync(join(root, "examples", "quickstart.ts"), join(dir, "src", "quickstart.ts"))
    copyFileSync(join(root, "scripts", "consumer", "pgOnly.ts"), join(dir, "src", "pgOnly.ts"))
    for (const i of only) writeFileSync(join(dir, "src", snippets[i]!.file), snippets[i]!.code)
    return dir
  }

  const typeCheck = (dir: string, what: string) => {
    const t = Date.now()
    run("npx", ["tsc", "-p", "tsconfig.json"], { cwd: dir, minutes: 5 })
    const files = readdirSync(join(dir, "src")).length
    console.log(
      `   (b) tsc ${what}: ${files} files, 0 errors (strict, exactOptionalPropertyTypes, noUncheckedIndexedAccess, ` +
        `skipLibCheck false) (${seconds(t)})`
    )
  }

  const runAll = (dir: string, only: ReadonlyArray<number> = all) => {
    const quick = run("node", ["dist/quickstart.js"], { cwd: dir })
    expectIn(quick.out, "created John", "the quick start")
    expectIn(quick.out, "Detected sqlite", "the quick start")
    const lines = quick.out.split("\n").filter((line) => /^(created|active|in the transaction|Detected)/.test(line))
    console.log("   (a) node dist/quickstart.js:")
    show(lines.join("\n"), "       ")
    for (const { file } of only.map((i) => snippets[i]!)) {
      const js = file.replace(/\.ts$/, ".js")
      // Effect's log lines (the monitor's transitions) are not the snippet's own output.
      const out = run("node", [join("dist", js)], { cwd: dir }).out.trim().split("\n").filter((line) =>
        !line.startsWith("timestamp=")
      )
      console.log(`   (a) node dist/${js}: ok, ${out.length} lines, first: ${out[0]}`)
    }
  }

  const versionsOf = (dir: string, names: ReadonlyArray<string>) =>
    names.map((n) => `${n}@${readJson<PackageJson>(join(dir, "node_modules", n, "package.json")).version}`).join(", ")
  const effectPackages = ["effect", "@effect/sql", "@effect/platform", "@effect/experimental"]

  step("(a), (b) a project with the tarballs and the SQLite driver, at the newest versions the ranges allow")
  const app = makeProject("app", driverSpecs("better-sqlite3"))
  console.log(`   resolved: ${versionsOf(app, effectPackages)}`)
  typeCheck(app, "in the app")
  runAll(app)

  step("(c) a project with only PostgreSQL's driver")
  const pgOnly = makeProject("pg-only", driverSpecs("pg"))
  const absent = ["mysql2", "better-sqlite3", "@effect/sql-mysql2", "@effect/sql-sqlite-node", "@types/pg"].filter(
    (name) => run("node", ["-e", `import(${JSON.stringify(name)})`], { cwd: pgOnly, allowFailure: true }).status !== 0
  )
  console.log(`   not installed: ${absent.join(", ")}`)
  if (absent.length !== 5) throw new Error("the pg-only project has another driver installed")
  typeCheck(pgOnly, "with only pg installed (no other driver, no @types/pg)")
  const pg = run("node", ["dist/pgOnly.js"], { cwd: pgOnly }).out
  show(pg)
  expectIn(
    pg,
    `mysql: DriverNotInstalled: The database driver "mysql2" is not installed: run ${Drivers.installCommand("mysql2")}`,
    "(c)"
  )
  expectIn(
    pg,
    `sqlite: DriverNotInstalled: The database driver "better-sqlite3" is not installed: run ${
      Drivers.installCommand("better-sqlite3")
    }`,
    "(c)"
  )
  expectIn(pg, "FastOrm.layer on a mysql URL: DriverNotInstalled", "(c)")
  expectIn(pg, "postgresql: adapter postgresql over pg; SELECT 1 on a closed port: ECONNREFUSED", "(c)")

  step("(d) the libraries beside the lowest versions the peer ranges allow")
  // Without the `fastorm` command (the packages with a `bin`): its toolchain (@effect/cli 0.77, @effect/printer 0.51,
  // @effect/platform-node 0.108 and their own peers) needs effect 3.22.1 and newer @effect/sql and @effect/platform
  // than the libraries' lowest, so it is checked at the newest versions above, and here left out.
  const peers = readJson<PackageJson>(join(packages[0]!.dir, "package.json")).peerDependencies ?? {}
  const lowest = effectPackages.map((name) => `${name}@${(peers[name] ?? "").replace(/^\^/, "")}`)
  const oldest = makeProject("lowest", [...driverSpecs("better-sqlite3"), ...lowest], libraries)
  console.log(`   resolved: ${versionsOf(oldest, effectPackages)}`)
  // Every installed copy, wherever npm put it (nested node_modules included).
  const copies: Array<string> = []
  const scan = (modules: string) => {
    for (const entry of readdirSync(modules, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue
      const dir = join(modules, entry.name)
      if (entry.name.startsWith("@")) scan(dir)
      else {
        if (entry.name === "effect") copies.push(`${readJson<PackageJson>(join(dir, "package.json")).version} ${dir}`)
        if (existsSync(join(dir, "node_modules"))) scan(join(dir, "node_modules"))
      }
    }
  }
  scan(join(oldest, "node_modules"))
  show(run("npm", ["ls", "effect"], { cwd: oldest }).out)
  if (copies.length !== 1) throw new Error(`not one copy of effect:\n${copies.join("\n")}`)
  console.log(`   one copy of effect on disk: ${copies[0]!.replace(scratch, "$TMP")}`)
  typeCheck(oldest, "at the lowest versions")
  runAll(oldest, libraries)

  step(`all checks passed (${seconds(started)})`)
} finally {
  if (process.env.FASTORM_CHECK_KEEP === "1") console.log(`scratch kept: ${scratch}`)
  else rmSync(scratch, { recursive: true, force: true })
}
