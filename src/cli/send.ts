// `falco-grpc-output send`: Falco's JSON alerts into the transmitter, the bridge from Falco
// 0.44's outputs to gRPC: lines from stdin or a file (followed as it grows with --follow), or
// http_output's POSTs (--http-listen).

import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { Command } from 'commander';
import type { Outputs } from '../outputs/fan-out.js';
import { parseFalcoJsonLine } from '../codec/falco-json.js';
import { followFile } from '../input/follow-file.js';
import { parseListenAddress, startHttpListener, type Delivery } from '../input/http-listener.js';
import { createSendCounters, type SendCounters } from '../input/counters.js';
import type { AlertInput } from '../codec/alert.js';
import { loadConfigFile } from '../config/load.js';
import { checkTopLevelKeys } from '../config/falco-keys.js';
import { parseOutputsConfig, type OutputsConfig } from '../config/outputs-config.js';
import { parseSendSettings } from '../config/send-config.js';
import type { Report } from '../config/section.js';
import { fillFromConfig, parsedBy } from './config-options.js';
import { checkPositiveInteger } from '../config/checks.js';
import { buildSendOutputs, onFullFor, summarize, type OutputFlags } from './send-outputs.js';
import { addTlsFlags, inFlagWords } from './tls-flags.js';
import { watchOutputs, type OutputWatch } from './output-watch.js';
import { whyNotAnAlert } from '../input/not-an-alert.js';
import { RateLimitedLog } from '../common/rate-limited-log.js';
import { metricsListenOption, serveMetrics } from './metrics-option.js';
import { registerInputMetrics, registerOutputMetrics } from '../metrics/send-metrics.js';

interface SendFlags extends OutputFlags {
  config?: string;
  input?: string;
  follow?: boolean;
  fromEnd?: boolean;
  httpListen?: string;
  flushTimeout: string;
  httpRequestTimeout: string;
  httpMaxConnections: number;
  metricsListen?: string;
}

/** One input line and where it came from, for error messages. */
interface SourceLine {
  where: string;
  text: string;
}

function say(message: string): void {
  process.stderr.write(`falco-grpc-output send: ${message}\n`);
}

function checkModes(flags: SendFlags): void {
  if (flags.httpListen !== undefined && (flags.input !== undefined || flags.follow || flags.fromEnd)) {
    throw new Error('--http-listen takes alerts over HTTP only; run a second send for --input/--follow');
  }
  if (flags.follow && flags.input === undefined) {
    throw new Error('--follow needs --input FILE (stdin is read to its end without it)');
  }
  if (flags.fromEnd && !flags.follow) throw new Error('--from-end goes with --follow');
  if (flags.httpListen !== undefined) parseListenAddress(flags.httpListen);
}

/** Aborts on the first SIGINT or SIGTERM, saying what it now waits for; a second one exits at once. */
function stopOnSignal(waitingFor: () => string): AbortSignal {
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => {
    if (controller.signal.aborted) {
      say(`${signal} again: exiting without waiting for acks`);
      process.exit(1);
    }
    say(`${signal}: stopped reading input; ${waitingFor()}; ${signal} again exits at once`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return controller.signal;
}

async function* readLines(input: NodeJS.ReadableStream & { destroy(): void }, name: (lineNo: number) => string, stop: AbortSignal): AsyncGenerator<SourceLine> {
  const lines = createInterface({ input, crlfDelay: Infinity });
  // A signal ends the input where it is: the lines not read yet are not sent. Closing the
  // interface ends the loop below; destroying the input alone would leave it waiting forever.
  const onStop = (): void => {
    lines.close();
    input.destroy();
  };
  stop.addEventListener('abort', onStop, { once: true });
  let lineNo = 0;
  try {
    for await (const text of lines) {
      if (stop.aborted) break;
      yield { where: name(++lineNo), text };
    }
  } finally {
    stop.removeEventListener('abort', onStop);
  }
}

async function* followLines(file: string, fromEnd: boolean, signal: AbortSignal): AsyncGenerator<SourceLine> {
  for await (const line of followFile(file, { fromEnd, signal, onNotice: say })) {
    yield { where: `${line.file}:${line.lineNo}`, text: line.text };
  }
}

function lineSource(flags: SendFlags, stop: AbortSignal): AsyncIterable<SourceLine> {
  if (flags.input === undefined) return readLines(process.stdin, (n) => `line ${n}`, stop);
  const file = flags.input;
  if (flags.follow) return followLines(file, flags.fromEnd === true, stop);
  return readLines(createReadStream(file), (n) => `${file}:${n}`, stop);
}

/** Malformed inputs reported one by one; past this many only counted (the summary has them all). */
const MALFORMED_SHOWN = 20;

function reportMalformed(counters: SendCounters, where: string, reason: string): void {
  if (counters.malformed <= MALFORMED_SHOWN) say(`${where}: ${reason}; skipped`);
  if (counters.malformed === MALFORMED_SHOWN) say(`more malformed inputs are counted but not shown (see the summary)`);
}

/**
 * Waits, without blocking the thread, until every output has room for a line of this size, so
 * signals, the connection watch and metrics scrapes carry on while a slow receiver catches up.
 * emit()'s own blocking wait stays behind it for an alert that encodes larger than guessed.
 */
async function roomFor(output: Outputs, text: string, stop: AbortSignal): Promise<boolean> {
  const want = 2 * Buffer.byteLength(text) + 1024;
  while (output.outputs.some((o) => o.freeBytes() < Math.min(want, o.maxAlertBytes * 2))) {
    if (stop.aborted) return false;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return true;
}

async function sendLines(source: AsyncIterable<SourceLine>, output: Outputs, counters: SendCounters, waitForRoom: boolean, stop: AbortSignal): Promise<void> {
  for await (const { where, text } of source) {
    if (text.trim() === '') continue;
    counters.read++;
    let alert: AlertInput;
    try {
      alert = parseFalcoJsonLine(text);
    } catch (err) {
      counters.malformed++;
      reportMalformed(counters, where, whyNotAnAlert(err, text));
      continue;
    }
    // Stopped while waiting: this line is not sent, like the rest of the input not read yet.
    if (waitForRoom && !(await roomFor(output, text, stop))) break;
    try {
      output.emit(alert);
    } catch (err) {
      counters.malformed++; // the output counted it as dropped: invalid
      reportMalformed(counters, where, (err as Error).message);
    }
  }
}

/** Serves http_output until a signal, then stops accepting and lets the requests in hand finish. */
async function serveHttp(
  listen: string,
  output: Outputs,
  counters: SendCounters,
  stop: AbortSignal,
  limits: { requestTimeoutMs: number; maxConnections: number },
): Promise<void> {
  let tooLargeSeen = 0;
  const deliver = (alert: AlertInput): Delivery => {
    if (output.emit(alert)) return 'accepted';
    const too_large = Object.values(output.stats().outputs).reduce((n, o) => Math.max(n, o.drops.too_large), 0);
    if (too_large === tooLargeSeen) return 'full';
    tooLargeSeen = too_large;
    return 'too_large';
  };
  const limited = new RateLimitedLog(say);
  const listener = await startHttpListener({
    listen,
    counters,
    deliver,
    ...limits,
    onConnectionRefused: (from, limit) =>
      limited.say('connections', `refused a connection from ${from}: ${limit} connections are open, the most http_output may hold (--http-max-connections)`),
    onRefused: ({ requestNo, from, status, reason }) => {
      // A full ring is the receiver's trouble, not the poster's: the output watch reports the episode.
      if (status === 503) return;
      if (status >= 500) say(`request ${requestNo} from ${from}: ${reason}`);
      else reportMalformed(counters, `request ${requestNo} from ${from}`, reason);
    },
  });
  say(`listening on ${listener.url}`);
  if (!stop.aborted) await new Promise((resolve) => stop.addEventListener('abort', resolve, { once: true }));
  await listener.close(HTTP_CLOSE_GRACE_MS);
}

/** How long requests in hand may take to finish once send stops taking new ones. */
const HTTP_CLOSE_GRACE_MS = 5000;
/** While the last acks are awaited, how often send says how many are left. */
const WAITING_NOTE_MS = 10_000;

function pendingOf(output: Outputs): number {
  return Object.values(output.stats().outputs).reduce((n, s) => n + s.pending, 0);
}

async function finish(output: Outputs, counters: SendCounters, flushMs: number, watch: OutputWatch): Promise<void> {
  const deadline = performance.now() + flushMs;
  const note = setInterval(() => {
    const pending = pendingOf(output);
    if (pending > 0) say(`waiting for ${pending} alert(s) to be acknowledged; giving up in ${Math.max(0, Math.round((deadline - performance.now()) / 1000))} s (--flush-timeout)`);
  }, WAITING_NOTE_MS);
  note.unref();
  const flushed = await output.close(flushMs);
  clearInterval(note);
  watch.stop();
  const { lines, ok } = summarize(output, counters, inFlagWords);
  for (const line of lines) say(line);
  const answers = Object.entries(counters.httpResponses);
  if (answers.length > 0) say(`http answers: ${answers.map(([status, n]) => `${status} x${n}`).join(', ')}`);
  process.exitCode = flushed.flushed && ok ? 0 : 1;
}

/** With --config: fills unset flags from falco_grpc_output.send, and returns the outputs it enables. */
function readConfig(cmd: Command): OutputsConfig | null {
  const file = cmd.getOptionValue('config') as string | undefined;
  if (!file) return null;
  const report: Report = (level, message) => say(`${level}: ${message}`);
  const config = loadConfigFile(file);
  checkTopLevelKeys(config, report);
  fillFromConfig(cmd, parseSendSettings(config, report));
  return parseOutputsConfig(config, report);
}

export function sendCommand(): Command {
  const cmd = new Command('send')
    .description('send Falco JSON alerts (json_output: true) from stdin, a file or http_output to a receiver and/or the outputs a falco.yaml enables')
    .option(
      '--target <addr>',
      'receiver address (host:port with mTLS, or unix:///path); repeat it (or comma-separate) for several receivers: each transmitter uses one and fails over to the others',
      (value: string, previous: string[] | undefined) => [...(previous ?? []), ...value.split(',').map((t) => t.trim()).filter((t) => t !== '')],
    )
    .option('--config <file>', "falco.yaml: also write to the outputs it enables (stdout_output, file_output, syslog_output, program_output, http_output) and read falco_grpc_output.send")
    .option('--input <file>', 'read this file instead of stdin')
    .option('--follow', 'with --input: keep reading as the file grows, through rotation and truncation, until SIGINT/SIGTERM')
    .option('--from-end', 'with --follow: skip the lines already in the file')
    .option('--http-listen <addr>', "host:port: take Falco's http_output POSTs (one alert each) instead of reading stdin")
    .option('--http-request-timeout <seconds>', 'with --http-listen: a request must be complete within this time, or it is answered 408 and closed', '30')
    .option('--http-max-connections <n>', 'with --http-listen: most connections open at once; more are closed on arrival and counted', parsedBy(checkPositiveInteger), 256)
    .option('--buffer-bytes <size>', 'ring size of each output: bytes, or with a unit (512KiB, 8MiB; default 8MiB)')
    .option('--on-full <block|drop>', 'when an output is full: wait (default with one output, reading lines) or drop and count (default otherwise)')
    .option('--flush-timeout <seconds>', 'how long to wait for the last acks at the end of input', '60')
    .option('--spool <dir>', "the gRPC output's spool: alerts wait on disk through outages and restarts (docs/spool.md)")
    .option('--spool-max-bytes <n>', 'with --spool: most bytes on disk (default 1 GiB)')
    .option('--spool-when-full <drop_newest|drop_oldest>', 'with --spool: what a full spool gives up (default drop_newest)')
    .option('--spool-fsync <interval|always|never>', 'with --spool: when writes are forced to disk (default interval, 500 ms)')
    .addOption(metricsListenOption());
  addTlsFlags(cmd, 'client');
  return cmd.action(async () => {
    const classic = readConfig(cmd);
    const flags = cmd.opts<SendFlags>();
    const flushSec = seconds('--flush-timeout', flags.flushTimeout, 0);
    const requestTimeoutSec = seconds('--http-request-timeout', flags.httpRequestTimeout, 0.001);
    checkModes(flags);
    const counters = createSendCounters();
    const servingHttp = flags.httpListen !== undefined;
    const output = buildSendOutputs(flags, classic, servingHttp);
    const watch = watchOutputs(output.outputs, say, { words: inFlagWords });
    // logrotate's postrotate sends SIGHUP: file outputs reopen their file, as Falco's do.
    process.on('SIGHUP', () => {
      output.reopen().catch((err: unknown) => say(`SIGHUP: reopening failed: ${err instanceof Error ? err.message : String(err)}`));
    });
    const stop = stopOnSignal(() => {
      const pending = pendingOf(output);
      const requests = servingHttp ? `finishing the requests in hand (up to ${HTTP_CLOSE_GRACE_MS / 1000} s), then ` : '';
      return `${requests}waiting up to ${flushSec} s (--flush-timeout) for ${pending} alert(s) not yet acknowledged`;
    });
    const metrics = flags.metricsListen === undefined ? null : await serveMetrics('send', flags.metricsListen, (r) => {
      registerOutputMetrics(r, output.outputs);
      registerInputMetrics(r, counters);
    });
    if (servingHttp) await serveHttp(flags.httpListen!, output, counters, stop, { requestTimeoutMs: requestTimeoutSec * 1000, maxConnections: flags.httpMaxConnections });
    else await sendLines(lineSource(flags, stop), output, counters, onFullFor(flags, output.outputs.length, false) === 'block', stop);
    await finish(output, counters, flushSec * 1000, watch);
    if (metrics) await metrics.close();
  });
}

function seconds(flag: string, value: string, min: number): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < min) throw new Error(`${flag}: expected a number of seconds${min > 0 ? ' above 0' : ' >= 0'}, got "${value}"`);
  return n;
}
