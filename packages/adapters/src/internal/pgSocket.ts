/**
 * Cutting a node-postgres client's connection without waiting for the server: `end()` waits for the server to
 * acknowledge, which a frozen or unreachable server never does. pg's client has no `destroy`; its socket does, and
 * the client then ends as on a dropped connection.
 */
/** Destroys the client's socket; a client whose socket is already gone is left as it is. */
export const cut = (client: object): void => {
  const stream = (client as unknown as { connection?: { stream?: { destroy?: () => void } } }).connection?.stream
  try {
    stream?.destroy?.()
  } catch {
    // already gone
  }
}
