// The library's one logging hook. Outputs, workers and the receiver say what went wrong through a
// `log` option (default: a line on stderr), so a host can route the lines into its own logger.

/** Receives one line of text, without a trailing newline. */
export type LogFn = (line: string) => void;

export const stderrLog: LogFn = (line) => {
  process.stderr.write(`${line}\n`);
};
