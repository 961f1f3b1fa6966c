// `npm run cluster`: starts both test clusters for manual work and keeps them up until Ctrl-C.
import { throughPgBouncer } from "../cluster/pgbouncer.js"
import { startClusters } from "../cluster/start.js"
import type { ClusterNodes } from "../cluster/types.js"

const hints = (label: string, cluster: ClusterNodes): string =>
  `# ${label}\nexport FASTORM_WRITE_URL=${cluster.primary.url} FASTORM_READ_URLS=${
    cluster.replicas.map((r) => r.url).join(",")
  }`

const t0 = Date.now()
const info = await startClusters({ log: (line) => console.log(line) })
for (const cluster of [info.postgres, info.mariadb]) {
  for (const node of [cluster.primary, ...cluster.replicas]) {
    console.log(`${node.name.padEnd(16)} ${node.url}  (admin ${node.adminUrl}, pid ${node.pid})`)
  }
}
for (const pooler of [info.pgbouncer.primary, ...info.pgbouncer.replicas]) {
  console.log(`${pooler.name.padEnd(16)} ${pooler.url}  (PgBouncer in front of ${pooler.backend}, pid ${pooler.pid})`)
}
console.log(`\ncluster file: ${info.file}\nexport FASTORM_CLUSTER_FILE=${info.file}`)
console.log(hints("PostgreSQL", info.postgres))
console.log(hints("PostgreSQL through PgBouncer", throughPgBouncer(info.postgres, info.pgbouncer)))
console.log(hints("MariaDB", info.mariadb))
console.log(`\nready in ${Date.now() - t0} ms; Ctrl-C stops every server and removes ${info.dir}`)
// The cleanup handlers installed by startClusters tear down on SIGINT / SIGTERM; this only keeps the process alive.
setInterval(() => undefined, 1 << 30)
