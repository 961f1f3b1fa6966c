/**
 * A tolerant splitter for connection URLs. `new URL()` rejects the very strings validation must explain (an empty
 * host with a port of 99999) and its TypeError keeps the whole URL in `.input`, so validation splits by hand.
 */

/** The pieces of a URL, still percent-encoded. */
export interface RawUrl {
  readonly scheme: string
  readonly authority: string
  readonly userInfo: { readonly user: string; readonly password?: string | undefined } | undefined
  readonly host: string
  readonly ipv6: boolean
  readonly port: string | undefined
  readonly path: string
  readonly query: string | undefined
  readonly hasFragment: boolean
}

/** Why the input could not even be split into scheme and rest. */
export type SplitFailure = "empty" | "no-scheme" | "bad-scheme"

/** Splits `scheme://userinfo@host:port/path?query#fragment` without rejecting odd hosts or ports. */
export const splitUrl = (input: string): RawUrl | SplitFailure => {
  const text = input.trim()
  if (text.length === 0) return "empty"
  const sep = text.indexOf("://")
  if (sep < 0) return "no-scheme"
  const scheme = text.slice(0, sep)
  if (!/^[A-Za-z][A-Za-z0-9+.-]{0,39}$/.test(scheme)) return "bad-scheme"
  let rest = text.slice(sep + 3)
  const hash = rest.indexOf("#")
  const hasFragment = hash >= 0
  if (hasFragment) rest = rest.slice(0, hash)
  const q = rest.indexOf("?")
  const query = q >= 0 ? rest.slice(q + 1) : undefined
  if (q >= 0) rest = rest.slice(0, q)
  const slash = rest.indexOf("/")
  const authority = slash >= 0 ? rest.slice(0, slash) : rest
  const path = slash >= 0 ? rest.slice(slash) : ""
  // The last "@" ends the user info, as in WHATWG URL: an unencoded "@" in a password stays in the password.
  const at = authority.lastIndexOf("@")
  const userInfoText = at >= 0 ? authority.slice(0, at) : undefined
  const hostPort = at >= 0 ? authority.slice(at + 1) : authority
  const userInfo = userInfoText === undefined ? undefined : splitUserInfo(userInfoText)
  const { host, ipv6, port } = splitHostPort(hostPort)
  return { scheme, authority, userInfo, host, ipv6, port, path, query, hasFragment }
}

const splitUserInfo = (text: string): { readonly user: string; readonly password?: string | undefined } => {
  const colon = text.indexOf(":")
  return colon >= 0 ? { user: text.slice(0, colon), password: text.slice(colon + 1) } : { user: text }
}

const splitHostPort = (
  text: string
): { readonly host: string; readonly ipv6: boolean; readonly port: string | undefined } => {
  if (text.startsWith("[")) {
    const close = text.indexOf("]")
    if (close < 0) return { host: text, ipv6: true, port: undefined }
    const after = text.slice(close + 1)
    return {
      host: text.slice(1, close),
      ipv6: true,
      port: after.startsWith(":") ? after.slice(1) : after.length > 0 ? after : undefined
    }
  }
  const colon = text.lastIndexOf(":")
  return colon >= 0
    ? { host: text.slice(0, colon), ipv6: false, port: text.slice(colon + 1) }
    : { host: text, ipv6: false, port: undefined }
}

/** Percent-decodes, or returns undefined when the encoding is broken. */
export const decode = (s: string): string | undefined => {
  try {
    return decodeURIComponent(s)
  } catch {
    return undefined
  }
}

/** Splits a query string into decoded pairs, in order; undefined entries had broken percent-encoding. */
export const splitQuery = (
  query: string
): ReadonlyArray<
  {
    readonly rawKey: string
    readonly hasValue: boolean
    readonly key: string | undefined
    readonly value: string | undefined
  }
> =>
  query.split("&").filter((part) => part.length > 0).map((part) => {
    const eq = part.indexOf("=")
    const rawKey = eq >= 0 ? part.slice(0, eq) : part
    const rawValue = eq >= 0 ? part.slice(eq + 1) : ""
    // Form encoding ("+" for a space) is what URLSearchParams and pg-connection-string apply to the query.
    return {
      rawKey,
      hasValue: eq >= 0,
      key: decode(rawKey.replace(/\+/g, " ")),
      value: decode(rawValue.replace(/\+/g, " "))
    }
  })
