// `falco-grpc-output receive`: the receiver daemon.
// Settings come from flags, FALCO_GRPC_OUTPUT_* environment variables and a falco.yaml-style
// --config file, in that order of precedence, and are checked before anything listens.

import { Command, Option } from 'commander';
import { createReceiver } from '../receiver/receiver.js';
import { createInterface } from 'node:readline';
import { DiscardSink, JsonLinesSink } from '../receiver/sinks.js';
import { FaultSink } from '../flood/fault-sink.js';
import { addTlsFlags } from './tls-flags.js';
import { addNatsFlags } from './nats-flags.js';
import { fillFromConfig, parsedBy, readBooleanEnv } from './config-options.js';
import { metricsListenOption, serveMetrics } from './metrics-option.js';
import { registerReceiverMetrics } from '../metrics/receiver-metrics.js';
import { checkGrpcAddress, checkPositiveInteger, checkPriority } from '../config/checks.js';
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
      option('--max-message-bytes <n>', 'largest PublishRequest accepted', 'MAX_MESSAGE_BYTES')
        .argParser(parsedBy(checkPositiveInteger))
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
  addNatsFlags(cmd, 'receive', ENV_PREFIX);
  return cmd.action(async (flags: { controlStdin?: boolean }) => {
    const report: Report = (level, message) => process.stderr.write(`falco-grpc-output receive: ${level}: ${message}\n`);
    const settings = receiveSettingsFromCommand(cmd, report);
    const baseSink = settings.nats
      ? undefined
      : settings.discard
        ? new DiscardSink()
        : new JsonLinesSink(settings.outputFile ? { file: settings.outputFile } : { stream: process.stdout });
    if (settings.nats && flags.controlStdin) throw new Error('--control-stdin drives the local sink; it does not go with --nats');
    const faults = flags.controlStdin && baseSink ? new FaultSink(baseSink) : null;
    const receiver = createReceiver({
      listen: settings.listen,
      tls: settings.tls,
      insecure: settings.insecure,
      nats: settings.nats,
      sink: faults ?? baseSink,
      maxMessageBytes: settings.maxMessageBytes,
      subscriptions: settings.subscriptions ? { queueAlerts: settings.subscriberQueue, historyAlerts: settings.history } : false,
      minPriority: settings.minPriority,
    });
    // Metrics first: a port already taken stops the receiver before it takes any alert.
    const metrics = settings.metricsListen === undefined ? null : await serveMetrics('receive', settings.metricsListen, (r) => registerReceiverMetrics(r, receiver));
    const bound = await receiver.start();
    for (const addr of bound) process.stderr.write(`falco-grpc-output receive: listening on ${addr}\n`);
    const stop = async (signal: string): Promise<void> => {
      process.stderr.write(`falco-grpc-output receive: ${signal}: finishing alerts in hand\n`);
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
