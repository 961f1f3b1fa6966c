/** The `fastorm` command: `doctor` and `status`, and the functions behind them. */
export * as Cli from "./Cli.js"
