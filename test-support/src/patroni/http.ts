/** Bound of one HTTP call to etcd or a Patroni REST API: a dead or frozen process must fail fast. */
const HTTP_TIMEOUT_MS = 2_000

/** Bounded HTTP call on 127.0.0.1 that returns the status and the parsed JSON body (undefined when not JSON). */
export const httpJson = async (
  url: string,
  init: { readonly method?: string; readonly body?: unknown } = {}
): Promise<{ readonly status: number; readonly body: unknown }> => {
  const response = await fetch(url, {
    method: init.method ?? "GET",
    signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
    ...(init.body === undefined
      ? {}
      : { body: JSON.stringify(init.body), headers: { "content-type": "application/json" } })
  })
  const text = await response.text()
  try {
    return { status: response.status, body: JSON.parse(text) as unknown }
  } catch {
    return { status: response.status, body: undefined }
  }
}
