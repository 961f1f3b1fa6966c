/**
 * What a fault proxy (`FaultProxy.ts`) can be told to do with its connections, and the counters it keeps.
 */

/** Client → server (`toServer`) or server → client (`toClient`). */
export type Direction = "toServer" | "toClient"

/** What the proxy does with connections. */
export type Mode =
  /** Forward every byte at once. */
  | { readonly _tag: "Pass" }
  /** Forward every chunk after a delay, per direction; chunks keep their order. */
  | { readonly _tag: "Latency"; readonly toServerMs: number; readonly toClientMs: number }
  /** Accept and keep every socket open, new and existing, but let no byte through either way (and drop delayed ones). */
  | { readonly _tag: "Blackhole" }
  /** Reset (`resetAndDestroy`) every existing connection now and every new one on accept. */
  | { readonly _tag: "Reset" }
  /**
   * Refuse new connections: `close` closes the listener (the client gets ECONNREFUSED), `reset` accepts then resets.
   * Existing connections keep passing.
   */
  | { readonly _tag: "Refuse"; readonly how: "close" | "reset" }
  /**
   * Connections accepted from now on pass their first `toServerChunks` client → server chunks and whatever the server
   * answers until then; from the next client chunk on, nothing goes either way (a link lost right after a handshake).
   * Connections accepted before keep passing.
   */
  | { readonly _tag: "BlackholeAfter"; readonly toServerChunks: number }

/** Mode constructors. */
export const pass: Mode = { _tag: "Pass" }
export const blackhole: Mode = { _tag: "Blackhole" }
export const reset: Mode = { _tag: "Reset" }
export const latency = (ms: { readonly toServer?: number; readonly toClient?: number }): Mode => ({
  _tag: "Latency",
  toServerMs: ms.toServer ?? 0,
  toClientMs: ms.toClient ?? 0
})
export const refuse = (how: "close" | "reset" = "close"): Mode => ({ _tag: "Refuse", how })
export const blackholeAfter = (toServerChunks: number): Mode => ({ _tag: "BlackholeAfter", toServerChunks })

/** Counters since the proxy started. */
export interface Stats {
  /** Bytes forwarded, per direction. */
  readonly bytes: { readonly toServer: number; readonly toClient: number }
  /** Bytes swallowed by a blackhole (or dropped because their connection died while delayed), per direction. */
  readonly dropped: { readonly toServer: number; readonly toClient: number }
  /** Bytes received and held back by latency right now, per direction (e.g. a COMMIT on its way). */
  readonly pending: { readonly toServer: number; readonly toClient: number }
  /** Client connections open now. */
  readonly open: number
  /** Client connections accepted (including those reset or refused on accept). */
  readonly accepted: number
  /** Connections reset by the proxy (Reset mode or Refuse "reset"). */
  readonly resets: number
  /** Connections refused: reset on accept while refusing (listener-closed refusals never reach the proxy). */
  readonly refused: number
  /** Upstream connections to the target that failed (target down). */
  readonly upstreamErrors: number
  readonly mode: Mode
}
