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
import { fillFromConfig } from './config-options.js';
import { buildSendOutputs, summarize, type OutputFlags } from './send-outputs.js';
import { addTlsFlags } from './tls-flags.js';
import { metricsListenOption, serveMetrics } from './metrics-option.js';
import { registerInputMetrics, registerOutputMetrics } from '../metrics/send-metrics.js';

interface SendFlags extends OutputFlags {
  config?: string;
  input?: string;
  follow?: boolean;
  fromEnd?: boolean;
  httpListen?: string;
  flushTimeout: string;
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

/** Aborts on the first SIGINT or SIGTERM; a second one exits at once. */
function stopOnSignal(): AbortSignal {
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => {
    if (controller.signal.aborted) {
      say(`${signal} again: exiting without waiting for acks`);
      process.exit(1);
    }
    say(`${signal}: finishing`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return controller.signal;
}

async function* readLines(input: NodeJS.ReadableStream, name: (lineNo: number) => string): AsyncGenerator<SourceLine> {
  let lineNo = 0;
  for await (const text of createInterface({ input, crlfDelay: Infinity })) yield { where: name(++lineNo), text };
}

async function* followLines(file: string, fromEnd: boolean, signal: AbortSignal): AsyncGenerator<SourceLine> {
  for await (const line of followFile(file, { fromEnd, signal, onNotice: say })) {
    yield { where: `${line.file}:${line.lineNo}`, text: line.text };
  }
}

function lineSource(flags: SendFlags): AsyncIterable<SourceLine> {
  if (flags.input === undefined) return readLines(process.stdin, (n) => `line ${n}`);
  const file = flags.input;
  if (flags.follow) return followLines(file, flags.fromEnd === true, stopOnSignal());
  return readLines(createReadStream(file), (n) => `${file}:${n}`);
}

async function sendLines(source: AsyncIterable<SourceLine>, output: Outputs, counters: SendCounters): Promise<void> {
  for await (const { where, text } of source) {
    if (text.trim() === '') continue;
    counters.read++;
    try {
      output.emit(parseFalcoJsonLine(text));
    } catch (err) {
      counters.malformed++;
      say(`${where}: ${(err as Error).message}; skipped`);
    }
  }
}

/** Serves http_output until a signal, then stops accepting and lets the requests in hand finish. */
async function serveHttp(listen: string, output: Outputs, counters: SendCounters): Promise<void> {
  const stop = stopOnSignal();
  let tooLargeSeen = 0;
  let ringFull = false;
  const deliver = (alert: AlertInput): Delivery => {
    if (output.emit(alert)) {
      ringFull = false;
      return 'accepted';
    }
    const too_large = Object.values(output.stats().outputs).reduce((n, o) => Math.max(n, o.drops.too_large), 0);
    if (too_large === tooLargeSeen) return 'full';
    tooLargeSeen = too_large;
    return 'too_large';
  };
  const listener = await startHttpListener({
    listen,
    counters,
    deliver,
    onRefused: ({ requestNo, from, status, reason }) => {
      // A full ring is the receiver's trouble, not the poster's: say so once, not per request.
      if (status !== 503) say(`request ${requestNo} from ${from}: ${reason}`);
      else if (!ringFull) say('transmitter buffer full: dropping alerts (answering 503) until there is room');
      ringFull ||= status === 503;
    },
  });
  say(`listening on ${listener.url}`);
  if (!stop.aborted) await new Promise((resolve) => stop.addEventListener('abort', resolve, { once: true }));
  await listener.close();
}

async function finish(output: Outputs, counters: SendCounters, flushMs: number): Promise<void> {
  const flushed = await output.close(flushMs);
  const { lines, ok } = summarize(output, counters);
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
    .option('--buffer-bytes <n>', 'ring size of each output')
    .option('--on-full <block|drop>', 'when an output is full: wait (default with one output, reading lines) or drop and count (default otherwise)')
    .option('--flush-timeout <seconds>', 'how long to wait for the last acks at the end of input', '60')
    .addOption(metricsListenOption());
  addTlsFlags(cmd, 'client');
  return cmd.action(async () => {
    const classic = readConfig(cmd);
    const flags = cmd.opts<SendFlags>();
    const flushSec = Number(flags.flushTimeout);
    if (!Number.isFinite(flushSec) || flushSec < 0) throw new Error(`--flush-timeout must be seconds >= 0, got "${flags.flushTimeout}"`);
    checkModes(flags);
    const counters = createSendCounters();
    const output = buildSendOutputs(flags, classic, flags.httpListen !== undefined);
    // logrotate's postrotate sends SIGHUP: file outputs reopen their file, as Falco's do.
    process.on('SIGHUP', () => {
      output.reopen().catch((err: unknown) => say(`SIGHUP: reopening failed: ${err instanceof Error ? err.message : String(err)}`));
    });
    const metrics = flags.metricsListen === undefined ? null : await serveMetrics('send', flags.metricsListen, (r) => {
      registerOutputMetrics(r, output.outputs);
      registerInputMetrics(r, counters);
    });
    if (flags.httpListen !== undefined) await serveHttp(flags.httpListen, output, counters);
    else await sendLines(lineSource(flags), output, counters);
    await finish(output, counters, flushSec * 1000);
    if (metrics) await metrics.close();
  });
}
