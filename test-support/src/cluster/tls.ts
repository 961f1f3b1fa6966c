/**
 * The test clusters' certificates, made at start-up with `openssl` in the cluster dir: a private CA, one server
 * certificate for every node (SANs 127.0.0.1 and localhost), a client certificate for the certificate-only user, the
 * same key encrypted, a second CA that signed nothing here, and two CRLs of the private CA (one revoking nothing, one
 * revoking the server certificate). EC P-256 keys: the whole set takes a few tens of milliseconds.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { CERT_USER, CLIENT_KEY_PASSPHRASE } from "./constants.js"
import { chownToServiceUser } from "./layout.js"
import { isRoot, run } from "./proc.js"

/** Paths of the certificates and keys (PEM), as the cluster JSON records them. */
export interface TlsFiles {
  readonly dir: string
  /** The private CA that signed the servers' and the client's certificates. */
  readonly ca: string
  /** A CA that signed nothing here: trusting only it must refuse every server. */
  readonly otherCa: string
  /** The servers' certificate followed by the CA's (SANs 127.0.0.1 and localhost). */
  readonly serverCert: string
  /** The client certificate of `CERT_USER` (CN), signed by the CA. */
  readonly clientCert: string
  readonly clientKey: string
  /** `clientKey` encrypted with `CLIENT_KEY_PASSPHRASE`. */
  readonly clientKeyEncrypted: string
  /** A CRL of the CA that revokes nothing. */
  readonly crl: string
  /** A CRL of the CA that revokes the servers' certificate. */
  readonly revokingCrl: string
  /** The server key, one copy per server family (each must own its copy, mode 0600). */
  readonly serverKey: { readonly postgres: string; readonly mariadb: string }
}

const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]

const caConfig = (dir: string) => `
[ ca ]
default_ca = test_ca
[ test_ca ]
database = ${join(dir, "index.txt")}
crlnumber = ${join(dir, "crlnumber")}
default_md = sha256
default_crl_days = 2
`

/** Makes every certificate in `<root>/tls`; the server key copies are owned by the servers' users when root. */
export const makeCertificates = async (root: string, timeoutMs: number): Promise<TlsFiles> => {
  const dir = join(root, "tls")
  mkdirSync(dir, { recursive: true, mode: 0o755 })
  const path = (name: string) => join(dir, name)
  const openssl = (what: string, args: ReadonlyArray<string>) => run("openssl", args, { what, timeoutMs, cwd: dir })
  const ext = (name: string, lines: string) => {
    writeFileSync(path(name), lines)
    return path(name)
  }
  const caExt = ["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]
  await Promise.all([
    openssl("the test CA", [
      "req",
      "-x509",
      ...EC,
      "-keyout",
      path("ca.key"),
      "-out",
      path("ca.pem"),
      "-days",
      "2",
      "-subj",
      "/CN=FastORM test CA",
      ...caExt
    ]),
    openssl("the other CA", [
      "req",
      "-x509",
      ...EC,
      "-keyout",
      path("other-ca.key"),
      "-out",
      path("other-ca.pem"),
      "-days",
      "2",
      "-subj",
      "/CN=FastORM unrelated CA",
      ...caExt
    ]),
    openssl("the server key", [
      "req",
      "-new",
      ...EC,
      "-keyout",
      path("server.key"),
      "-out",
      path("server.csr"),
      "-subj",
      "/CN=fastorm-test-server"
    ]),
    openssl("the client key", [
      "req",
      "-new",
      ...EC,
      "-keyout",
      path("client.key"),
      "-out",
      path("client.csr"),
      "-subj",
      `/CN=${CERT_USER}`
    ])
  ])
  const serverExt = ext(
    "server.ext",
    "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n" +
      "extendedKeyUsage=serverAuth\n"
  )
  const clientExt = ext(
    "client.ext",
    "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n"
  )
  const sign = (what: string, csr: string, out: string, extfile: string, serial: string) =>
    openssl(what, [
      "x509",
      "-req",
      "-in",
      path(csr),
      "-CA",
      path("ca.pem"),
      "-CAkey",
      path("ca.key"),
      "-set_serial",
      serial,
      "-days",
      "2",
      "-extfile",
      extfile,
      "-out",
      path(out)
    ])
  await Promise.all([
    sign("the server certificate", "server.csr", "server-only.pem", serverExt, "0x1001"),
    sign("the client certificate", "client.csr", "client.pem", clientExt, "0x1002"),
    openssl("the encrypted client key", [
      "pkey",
      "-in",
      path("client.key"),
      "-aes-256-cbc",
      "-passout",
      `pass:${CLIENT_KEY_PASSPHRASE}`,
      "-out",
      path("client-encrypted.key")
    ])
  ])
  // The chain the servers present: their certificate, then the CA's.
  writeFileSync(
    path("server.pem"),
    readFileSync(path("server-only.pem"), "utf8") + readFileSync(path("ca.pem"), "utf8")
  )
  writeFileSync(path("ca.cnf"), caConfig(dir))
  writeFileSync(path("index.txt"), "")
  writeFileSync(path("crlnumber"), "1000\n")
  const ca = ["-config", path("ca.cnf"), "-keyfile", path("ca.key"), "-cert", path("ca.pem")]
  await openssl("the empty CRL", ["ca", ...ca, "-gencrl", "-out", path("crl.pem")])
  await openssl("the server certificate's revocation", ["ca", ...ca, "-revoke", path("server-only.pem")])
  await openssl("the revoking CRL", ["ca", ...ca, "-gencrl", "-out", path("revoking-crl.pem")])
  const key = readFileSync(path("server.key"))
  const serverKey = { postgres: path("server-postgres.key"), mariadb: path("server-mariadb.key") }
  for (const [file, user] of [[serverKey.postgres, "postgres"], [serverKey.mariadb, "mysql"]] as const) {
    writeFileSync(file, key, { mode: 0o600 })
    if (isRoot()) chownToServiceUser(file, user)
  }
  return {
    dir,
    ca: path("ca.pem"),
    otherCa: path("other-ca.pem"),
    serverCert: path("server.pem"),
    clientCert: path("client.pem"),
    clientKey: path("client.key"),
    clientKeyEncrypted: path("client-encrypted.key"),
    crl: path("crl.pem"),
    revokingCrl: path("revoking-crl.pem"),
    serverKey
  }
}

/** A node's URL (or any URL) with query options added, values percent-encoded; `user` replaces the login (no password). */
export const withOptions = (
  url: string,
  options: Readonly<Record<string, string>>,
  login?: { readonly user: string }
): string => {
  const query = Object.entries(options).map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join("&")
  const base = login === undefined ? url : url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^@/?#]*@/i, `$1${login.user}@`)
  return query.length === 0 ? base : `${base}${base.includes("?") ? "&" : "?"}${query}`
}
