/**
 * How the bench's processes print an error nobody handled (a driver's pool that emits one when a replica dies): its
 * message and where it was thrown, so a run's log says whose it was.
 */

/** The first `frames` frames of a stack, each as `function (package/file:line)` with the path cut to its package. */
const framesOf = (stack: string | undefined, frames: number): string =>
  (stack ?? "")
    .split("\n")
    .filter((line) => line.trimStart().startsWith("at "))
    .slice(0, frames)
    .map((line) => line.trim().slice(3).replace(/\/[^ ()]*\/(node_modules|packages)\//, ""))
    .join(" < ")

/** One line for an uncaught error or rejection: its message, then the frames it was thrown from. */
export const describeUncaught = (e: unknown): string => {
  const message = String((e as Error)?.message ?? e).slice(0, 200)
  const where = framesOf((e as Error)?.stack, 3)
  return where === "" ? message : `${message} (at ${where})`
}
