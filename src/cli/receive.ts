// `falco-grpc-output receive`: the receiver daemon.
// Settings come from flags, FALCO_GRPC_OUTPUT_* environment variables and a falco.yaml-style
// --config file, in that order of precedence, and are checked before anything listens.

import { Command, InvalidArgumentError, Option } from 'commander';
import { createReceiver } from '../receiver/receiver.js';
import { createInterface } from 'node:readline';
import { DiscardSink, JsonLinesSink } from '../receiver/sinks.js';
import { FaultSink } from '../flood/fault-sink.js';
import { addTlsFlags, checkTlsFiles, type TlsLabels } from './tls-flags.js';
import type { TlsOptions } from '../tls/pem.js';
import { fillFromConfig, readBooleanEnv } from './config-options.js';
import { metricsListenOption, serveMetrics } from './metrics-option.js';
import { registerReceiverMetrics } from '../metrics/receiver-metrics.js';
import { dirname, resolve } from 'node:path';
import { checkGrpcAddress, checkPositiveInteger, checkPriority, checkSize, isUnixAddress } from '../config/checks.js';
import { watchReceiver } from './receiver-watch.js';
import { checkWritableDirectory } from './flag-values.js';
import { loadConfigFile } from '../config/load.js';
import { checkTopLevelKeys } from '../config/falco-keys.js';
import type { Report } from '../config/section.js';
import {
  RECEIVE_DEFAULTS,
  readReceiveConfig,
  resolveReceiveSettings,
  type ReceiveOptionValues,
  type ReceiveSettings,
} from '../config/receive-config.js';

/** Every receive flag but --control-stdin can also be set as FALCO_GRPC_OUTPUT_<FLAG>. */
export const ENV_PREFIX = 'FALCO_GRPC_OUTPUT_';

/** A commander argument parser from a check of src/config/checks.ts. */
function parsedBy<T>(check: (value: unknown) => T): (value: string) => T {
  return (value) => {
    try {
      return check(value);
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message);
    }
  };
}

function listenParser(value: string, previous: string[] | undefined): string[] {
  const addresses = value.split(',').map((a) => a.trim()).filter((a) => a !== '');
  return [...(previous ?? []), ...addresses.map(parsedBy(checkGrpcAddress))];
}

function option(flags: string, description: string, env: string): Option {
  return new Option(flags, description).env(ENV_PREFIX + env);
}

export function receiveCommand(): Command {
  const cmd = new Command('receive')
    .description('receive alerts from transmitters (Transmitter/Publish) and write them as Falco JSON lines')
    .addOption(option('--config <file>', "falco.yaml-style settings file (grpc:, grpc_output:, priority, falco_grpc_output.receive:); flags and environment win over it", 'CONFIG'))
    .addOption(
      option('--listen <addr>', 'host:port (mTLS unless --insecure) or unix:///path (plaintext, mode 0660); repeatable or comma-separated (default localhost:50051)', 'LISTEN')
        .argParser(listenParser),
    )
    .addOption(option('--output-file <file>', 'append alerts to this file instead of stdout', 'OUTPUT_FILE'))
    .addOption(option('--discard', 'acknowledge and count alerts without writing them (load tests)', 'DISCARD'))
    .option(
      '--control-stdin',
      'load tests: read "stall", "resume", "slow MS" and "stats" lines from stdin (stats print on stderr)',
    )
    .addOption(
      option('--max-message-bytes <size>', 'largest PublishRequest accepted (bytes, or with a unit: 16MiB)', 'MAX_MESSAGE_BYTES')
        .argParser(parsedBy(checkSize))
        .default(RECEIVE_DEFAULTS.maxMessageBytes, '16 MiB'),
    )
    .addOption(
      option('--subscriber-queue <n>', "alerts each subscriber of Falco's subscription API may fall behind by", 'SUBSCRIBER_QUEUE')
        .argParser(parsedBy(checkPositiveInteger))
        .default(RECEIVE_DEFAULTS.subscriberQueue),
    )
    .addOption(
      option('--history <n>', "recent alerts kept for the subscription API's get", 'HISTORY')
        .argParser(parsedBy(checkPositiveInteger))
        .default(RECEIVE_DEFAULTS.history),
    )
    .addOption(
      option('--min-priority <name>', 'drop alerts less severe than this Falco priority (emergency, alert, critical, error, warning, notice, informational, debug)', 'MIN_PRIORITY')
        .argParser(parsedBy(checkPriority))
        .default(RECEIVE_DEFAULTS.minPriority, 'debug'),
    )
    .addOption(metricsListenOption());
  addTlsFlags(cmd, 'server', ENV_PREFIX);
  return cmd.action(async (flags: { controlStdin?: boolean }) => {
    const report: Report = (level, message) => process.stderr.write(`falco-grpc-output receive: ${level}: ${message}\n`);
    const settings = receiveSettingsFromCommand(cmd, report);
    const baseSink = settings.discard
      ? new DiscardSink()
      : new JsonLinesSink(settings.outputFile ? { file: settings.outputFile } : { stream: process.stdout });
    const faults = flags.controlStdin ? new FaultSink(baseSink) : null;
    checkUnixListenDirs(settings.listen);
    if (settings.tls) checkTlsFiles(settings.tls, tlsLabels(cmd, settings.tls));
    const receiver = createReceiver({
      listen: settings.listen,
      tls: settings.tls,
      insecure: settings.insecure,
      sink: faults ?? baseSink,
      maxMessageBytes: settings.maxMessageBytes,
      subscriptions: settings.subscriptions ? { queueAlerts: settings.subscriberQueue, historyAlerts: settings.history } : false,
      minPriority: settings.minPriority,
    });
    // Metrics first: a port already taken stops the receiver before it takes any alert.
    const metrics = settings.metricsListen === undefined ? null : await serveMetrics('receive', settings.metricsListen, (r) => registerReceiverMetrics(r, receiver));
    const bound = await receiver.start().catch((err: unknown) => {
      throw new Error(listenErrorText(err));
    });
    for (const addr of bound) process.stderr.write(`falco-grpc-output receive: listening on ${addr}\n`);
    const watch = watchReceiver(() => receiver.stats(), (line) => process.stderr.write(`falco-grpc-output receive: ${line}\n`));
    const stop = async (signal: string): Promise<void> => {
      watch.stop();
      const open = receiver.stats().activeStreams;
      process.stderr.write(
        `falco-grpc-output receive: ${signal}: no longer accepting; finishing and acknowledging what ${open} open stream(s) have in hand ` +
          `(up to ${RECEIVER_SHUTDOWN_GRACE_S} s), then flushing the output\n`,
      );
      faults?.resume(); // a stalled sink would otherwise hold the requests in hand forever
      try {
        await receiver.close();
        if (metrics) await metrics.close();
      } catch (err) {
        process.stderr.write(`falco-grpc-output receive: stopping failed: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exit(1);
      }
      const s = receiver.stats();
      process.stderr.write(
        `falco-grpc-output receive: stopped; accepted ${s.accepted}, duplicates skipped ${s.duplicates}, gaps ${s.gaps}\n`,
      );
      process.exit(0);
    };
    if (faults) {
      createInterface({ input: process.stdin }).on('line', (line) => {
        const [command, arg] = line.trim().split(/\s+/);
        if (command === 'stall') faults.stall();
        else if (command === 'resume') faults.resume();
        else if (command === 'slow') faults.slow(Number(arg) || 0);
        else if (command === 'stats') process.stderr.write(`stats ${JSON.stringify(receiver.stats())}\n`);
        else process.stderr.write(`falco-grpc-output receive: unknown control line "${line}"\n`);
      });
    }
    process.once('SIGTERM', () => void stop('SIGTERM'));
    process.once('SIGINT', () => void stop('SIGINT'));
  });
}

/** Each TLS file named by where it was set: the flag, the environment variable, the config file, or Falco's default. */
function tlsLabels(cmd: Command, tls: TlsOptions): TlsLabels {
  const label = (key: 'tlsCa' | 'tlsCert' | 'tlsKey', flag: string, env: string, value: string | Buffer): string => {
    const source = cmd.getOptionValueSource(key);
    const path = String(value);
    if (source === 'cli') return `${flag} ${path}`;
    if (source === 'env') return `${ENV_PREFIX}${env}=${path}`;
    if (source === 'config') return `${path} (from --config ${String(cmd.getOptionValue('config'))})`;
    return `${path} (Falco's default for a TCP grpc.bind_address)`;
  };
  return {
    ca: label('tlsCa', '--tls-ca', 'TLS_CA', tls.ca),
    cert: label('tlsCert', '--tls-cert', 'TLS_CERT', tls.cert),
    key: label('tlsKey', '--tls-key', 'TLS_KEY', tls.key),
  };
}

/** How long the receiver's close() lets requests in hand finish (its SHUTDOWN_GRACE_MS). */
const RECEIVER_SHUTDOWN_GRACE_S = 10;

/**
 * A unix socket is created in an existing, writable directory; the bind's own error for a missing
 * one is EACCES, which sends people looking at permissions.
 */
export function checkUnixListenDirs(listen: readonly string[]): void {
  for (const addr of listen) {
    if (!isUnixAddress(addr)) continue;
    const dir = dirname(resolve(addr.replace(/^unix:(\/\/)?/, '')));
    checkWritableDirectory(`--listen ${addr}`, dir, 'create it first (the socket file itself is created)');
  }
}

/** The receiver's bind errors, as the fix: which address, and what holds it. */
function listenErrorText(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const addr = /^cannot listen on (\S+):/.exec(message)?.[1];
  if (!addr) return message;
  if (message.includes('EADDRINUSE')) return `--listen ${addr}: the address is already in use (another receiver, or another program, is listening there)`;
  if (message.includes('EACCES')) return `--listen ${addr}: permission denied (ports below 1024 need privileges; for a socket, check the directory's permissions)`;
  if (message.includes('EADDRNOTAVAIL')) return `--listen ${addr}: this machine has no such address`;
  if (message.includes('ENOTFOUND') || message.includes('EAI_AGAIN')) return `--listen ${addr}: the host name does not resolve`;
  return message;
}

/**
 * The settings of a parsed `receive` command: flags and environment as commander recorded them,
 * the --config file filling what they left unset, then defaults. Throws a ConfigError (naming
 * file, line and key) for a bad file; notes and warnings go to `report`.
 */
export function receiveSettingsFromCommand(cmd: Command, report: Report): ReceiveSettings {
  readBooleanEnv(cmd);
  const file = cmd.getOptionValue('config') as string | undefined;
  if (file) {
    const config = loadConfigFile(file);
    checkTopLevelKeys(config, report);
    fillFromConfig(cmd, readReceiveConfig(config, report));
  }
  return resolveReceiveSettings(cmd.opts<ReceiveOptionValues>());
}
