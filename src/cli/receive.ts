// `falco-grpc-output receive`: the receiver daemon.
// Settings come from flags, FALCO_GRPC_OUTPUT_* environment variables and a falco.yaml-style
// --config file, in that order of precedence, and are checked before anything listens.

import { Command, Option } from 'commander';
import { createReceiver } from '../receiver/receiver.js';
import { defaultMaxConnections, openFileLimits } from '../receiver/fd-limit.js';
import { createInterface } from 'node:readline';
import { DiscardSink, JsonLinesSink } from '../receiver/sinks.js';
import { FaultSink } from '../flood/fault-sink.js';
import { addNatsFlags } from './nats-flags.js';
import { addTlsFlags, checkTlsFiles, type TlsLabels } from './tls-flags.js';
import type { TlsOptions } from '../tls/pem.js';
import { fillFromConfig, parsedBy, readBooleanEnv } from './config-options.js';
import { metricsListenOption, serveMetrics } from './metrics-option.js';
import { registerReceiverMetrics } from '../metrics/receiver-metrics.js';
import { createConsole } from '../console/server.js';
import { readTokenFile } from '../console/access.js';
import { checkConsoleListen } from '../config/console-address.js';
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

function listenParser(value: string, previous: string[] | undefined): string[] {
  const addresses = value.split(',').map((a) => a.trim()).filter((a) => a !== '');
  return [...(previous ?? []), ...addresses.map(parsedBy(checkGrpcAddress))];
}

function option(flags: string, description: string, env: string): Option {
  return new Option(flags, description).env(ENV_PREFIX + env);
}

/** An option taking a whole number >= 1, with its default (and how help shows it). */
function wholeNumberOption(flags: string, description: string, env: string, fallback: number | undefined, shown?: string): Option {
  return option(flags, description, env).argParser(parsedBy(checkPositiveInteger)).default(fallback, shown);
}

/** A byte count: a whole number, or with a unit (16MiB, 512k). */
function sizeOption(flags: string, description: string, env: string, fallback: number, shown: string): Option {
  return option(flags, `${description} (bytes, or with a unit: ${shown.replace(' ', '')})`, env).argParser(parsedBy(checkSize)).default(fallback, shown);
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
      'load tests: read "stall", "resume", "slow MS", "stats" and "memory" lines from stdin (stats and memory print on stderr)',
    )
    .addOption(sizeOption('--max-message-bytes <size>', 'largest PublishRequest accepted', 'MAX_MESSAGE_BYTES', RECEIVE_DEFAULTS.maxMessageBytes, '16 MiB'))
    .addOption(wholeNumberOption('--subscriber-queue <n>', "alerts each subscriber of Falco's subscription API may fall behind by", 'SUBSCRIBER_QUEUE', RECEIVE_DEFAULTS.subscriberQueue))
    .addOption(wholeNumberOption('--history <n>', "recent alerts kept for the subscription API's get", 'HISTORY', RECEIVE_DEFAULTS.history))
    .addOption(
      option('--min-priority <name>', 'drop alerts less severe than this Falco priority (emergency, alert, critical, error, warning, notice, informational, debug)', 'MIN_PRIORITY')
        .argParser(parsedBy(checkPriority))
        .default(RECEIVE_DEFAULTS.minPriority, 'debug'),
    )
    .addOption(sizeOption('--history-bytes <size>', "bytes of recent alerts kept for get and for subscribers that fall behind (one shared buffer)", 'HISTORY_BYTES', RECEIVE_DEFAULTS.historyBytes, '32 MiB'))
    .addOption(wholeNumberOption('--max-subscribers <n>', "subscription streams (sub and get) open at once; more are refused with RESOURCE_EXHAUSTED", 'MAX_SUBSCRIBERS', RECEIVE_DEFAULTS.maxSubscribers))
    .addOption(wholeNumberOption('--max-producers <n>', 'producers without an open stream whose sequence state is kept; beyond, the least recently seen is forgotten', 'MAX_PRODUCERS', RECEIVE_DEFAULTS.maxProducers))
    .addOption(wholeNumberOption('--max-connections <n>', 'connections open at once over every listener; unauthenticated ones (in TLS or before HTTP/2) may take half', 'MAX_CONNECTIONS', undefined, '80% of the open-file limit, at most 10,000'))
    .addOption(wholeNumberOption('--max-connections-per-peer <n>', 'connections open at once from one remote address', 'MAX_CONNECTIONS_PER_PEER', RECEIVE_DEFAULTS.maxConnectionsPerPeer))
    .addOption(wholeNumberOption('--handshake-timeout <seconds>', 'a TLS handshake must finish within this', 'HANDSHAKE_TIMEOUT', RECEIVE_DEFAULTS.handshakeTimeout))
    .addOption(wholeNumberOption('--first-frame-timeout <seconds>', "after TLS, a connection's first HTTP/2 frame must arrive within this", 'FIRST_FRAME_TIMEOUT', RECEIVE_DEFAULTS.firstFrameTimeout))
    .addOption(metricsListenOption())
    // The web console (docs/console.md).
    .addOption(option('--ui-listen <addr>', 'serve the web console at PORT or HOST:PORT (loopback unless a host is given; elsewhere needs TLS and --ui-token-file or --ui-client-certs)', 'UI_LISTEN').argParser(parsedBy(checkConsoleListen)))
    .addOption(option('--ui-token-file <file>', 'web console: every request must bring the token in this file (open the page as /?token=...)', 'UI_TOKEN_FILE'))
    .addOption(option('--ui-client-certs', "web console: browsers must present a certificate signed by the receiver's CA (--tls-ca)", 'UI_CLIENT_CERTS'));
  addTlsFlags(cmd, 'server', ENV_PREFIX);
  addNatsFlags(cmd, 'receive', ENV_PREFIX);
  return cmd.action(async (flags: { controlStdin?: boolean }) => {
    const report: Report = (level, message) => process.stderr.write(`falco-grpc-output receive: ${level}: ${message}\n`);
    const settings = receiveSettingsFromCommand(cmd, report);
    if (settings.nats && flags.controlStdin) throw new Error('--control-stdin drives the local sink; it does not go with --nats');
    // With --nats the bus is the sink (the receiver makes it); else a file, stdout or nothing.
    let baseSink: DiscardSink | JsonLinesSink | undefined;
    if (settings.discard) baseSink = new DiscardSink();
    else if (!settings.nats) baseSink = new JsonLinesSink(settings.outputFile ? { file: settings.outputFile } : { stream: process.stdout });
    const faults = flags.controlStdin && baseSink ? new FaultSink(baseSink) : null;
    checkUnixListenDirs(settings.listen);
    if (settings.tls) checkTlsFiles(settings.tls, tlsLabels(cmd, settings.tls));
    // Each connection costs a descriptor: the cap stays below the open-file limit (Node raised its soft limit to the hard one).
    const fdLimits = openFileLimits();
    const maxConnections = settings.maxConnections ?? defaultMaxConnections(fdLimits);
    const receiver = createReceiver({
      listen: settings.listen,
      tls: settings.tls,
      insecure: settings.insecure,
      nats: settings.nats,
      sink: faults ?? baseSink,
      maxMessageBytes: settings.maxMessageBytes,
      subscriptions: settings.subscriptions
        ? { queueAlerts: settings.subscriberQueue, historyAlerts: settings.history, historyBytes: settings.historyBytes, maxSubscribers: settings.maxSubscribers }
        : false,
      minPriority: settings.minPriority,
      maxProducers: settings.maxProducers,
      connections: {
        maxConnections,
        maxConnectionsPerPeer: settings.maxConnectionsPerPeer,
        handshakeTimeoutMs: settings.handshakeTimeout * 1000,
        firstFrameTimeoutMs: settings.firstFrameTimeout * 1000,
      },
    });
    const ui = settings.ui
      ? createConsole({ listen: settings.ui.listen, receiver, tls: settings.tls, token: settings.ui.tokenFile === undefined ? undefined : readTokenFile(settings.ui.tokenFile), clientCerts: settings.ui.clientCerts, addresses: settings.listen })
      : null;
    // Metrics first: a port already taken stops the receiver before it takes any alert.
    const metrics = settings.metricsListen === undefined ? null : await serveMetrics('receive', settings.metricsListen, (r) => registerReceiverMetrics(r, receiver));
    // The console before the receiver, for the same reason, and so that it counts every alert.
    if (ui) process.stderr.write(`falco-grpc-output receive: console on ${await ui.start()}\n`);
    const bound = await receiver.start().catch((err: unknown) => {
      throw new Error(listenErrorText(err));
    });
    for (const addr of bound) process.stderr.write(`falco-grpc-output receive: listening on ${addr}\n`);
    process.stderr.write(
      `falco-grpc-output receive: accepting up to ${maxConnections} connections${fdLimits ? ` (open-file limit ${fdLimits.soft})` : ''}, ${settings.maxConnectionsPerPeer} per peer address\n`,
    );
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
        if (ui) await ui.close();
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
        else if (command === 'memory') {
          (globalThis as { gc?: () => void }).gc?.(); // with --expose-gc: what is still held, not what awaits collection
          process.stderr.write(`memory ${JSON.stringify(process.memoryUsage())}\n`);
        }
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
