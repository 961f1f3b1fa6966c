/**
 * What a deadline assertion allows beyond the bound it proves, for a loaded 2-core machine: timers and socket callbacks
 * run late while other processes hold the cores (seen: a read cut at a 1000 ms statement timeout ended after 1427 ms
 * while other work ran). Each assertion adds it once to the bound its configuration gives, and stays below what the
 * broken behaviour would take (a driver's default timeout, a second statement timeout, a hang).
 */
export const LOADED_MACHINE_SLACK_MS = 1_000
