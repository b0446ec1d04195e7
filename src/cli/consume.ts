// `falco-grpc-output consume`: reads the bus with a durable consumer and writes the classic outputs
// a falco.yaml enables (and gRPC to another receiver with --target), through the same fan-out as
// `send`. A batch is acked only once every output took it (flushed), so a restart resumes where
// it stopped; several consume processes with one durable name share the work. SIGTERM finishes
// the batch in hand and waits for its acks to be confirmed: exactly once into the outputs. After
// SIGKILL, only the batch that was in flight is delivered again.

import { Command, Option } from 'commander';
import { BusLink } from '../bus/link.js';
import { DURABLE_DEFAULTS, DurableConsumer, type DurableBatch } from '../bus/durable.js';
import { checkPositiveInteger } from '../config/checks.js';
import { loadConfigFile } from '../config/load.js';
import { checkTopLevelKeys } from '../config/falco-keys.js';
import { busOptionsFrom, type NatsOptionValues } from '../config/nats-config.js';
import { parseOutputsConfig } from '../config/outputs-config.js';
import type { Report } from '../config/section.js';
import { parsedBy } from './config-options.js';
import { addNatsFlags } from './nats-flags.js';
import { ENV_PREFIX } from './receive.js';
import { buildSendOutputs, summarize, type OutputFlags } from './send-outputs.js';
import { addTlsFlags } from './tls-flags.js';
import type { Outputs } from '../outputs/fan-out.js';

interface ConsumeFlags extends OutputFlags, NatsOptionValues {
  config?: string;
  durable: string;
  batch?: number;
  ackWaitMs?: number;
}

function say(message: string): void {
  process.stderr.write(`falco-grpc-output consume: ${message}\n`);
}

/** How long a batch may wait for the outputs before consume says so (it keeps waiting). */
const SLOW_FLUSH_MS = 10_000;

/** Hands a batch to the outputs and resolves once all of them took every alert of it. */
async function deliverTo(outputs: Outputs, batch: DurableBatch, counts: { alerts: number; malformed: number; redelivered: number }): Promise<void> {
  for (let i = 0; i < batch.alerts.length; i++) {
    try {
      outputs.emitEncoded(batch.alerts[i]!);
    } catch (err) {
      counts.malformed++;
      say(`stream message #${batch.seqs[i]}: not a falco.outputs.response (${(err as Error).message}); counted as invalid and acked`);
    }
  }
  counts.alerts += batch.alerts.length;
  counts.redelivered += batch.redelivered;
  for (;;) {
    const flushed = await outputs.flush(SLOW_FLUSH_MS);
    if (flushed.flushed) return;
    say(`outputs still hold ${flushed.pending} alert(s) after ${SLOW_FLUSH_MS / 1000} s; the batch is acked once they take them`);
  }
}

export function consumeCommand(): Command {
  const cmd = new Command('consume')
    .description('read alerts from the NATS JetStream stream with a durable consumer and write them to the outputs a falco.yaml enables (and/or --target receivers)')
    .requiredOption('--durable <name>', 'durable consumer name: a restart resumes where it stopped; processes with one name share the work')
    .option('--config <file>', 'falco.yaml: the outputs it enables (stdout_output, file_output, syslog_output, program_output, http_output)')
    .option('--target <addr>', 'also send to this receiver (host:port with mTLS, or unix:///path); repeatable', (value: string, previous: string[] | undefined) => [...(previous ?? []), value])
    .addOption(new Option('--batch <n>', 'messages fetched and acked together').argParser(parsedBy(checkPositiveInteger)).default(DURABLE_DEFAULTS.batch))
    .addOption(
      new Option('--ack-wait-ms <ms>', 'how long nats-server waits for an ack before handing a message to another consume (only after a crash)')
        .argParser(parsedBy(checkPositiveInteger))
        .default(DURABLE_DEFAULTS.ackWaitMs),
    );
  addTlsFlags(cmd, 'client');
  addNatsFlags(cmd, 'consume', ENV_PREFIX);
  return cmd.action(async () => {
    const flags = cmd.opts<ConsumeFlags>();
    const report: Report = (level, message) => say(`${level}: ${message}`);
    const bus = busOptionsFrom(flags);
    if (!bus) throw new Error('consume needs --nats URL (the servers of the stream to read)');
    const classic = flags.config ? parseOutputsConfig(checkConfig(flags.config, report), report) : null;
    // One batch at a time fits any ring, so waiting for room never drops an alert.
    const outputs = buildSendOutputs({ ...flags, onFull: flags.onFull ?? 'block' }, classic, false);
    const link = new BusLink({ ...bus, log: (line) => process.stderr.write(`${line}\n`) });
    const consumer = new DurableConsumer(link, { durable: flags.durable, batch: flags.batch, ackWaitMs: flags.ackWaitMs, log: say });
    const counts = { alerts: 0, malformed: 0, redelivered: 0 };
    const onSignal = (signal: string): void => {
      say(`${signal}: finishing the batch in hand`);
      consumer.stop();
    };
    process.once('SIGTERM', () => onSignal('SIGTERM'));
    process.once('SIGINT', () => onSignal('SIGINT'));
    try {
      await link.start();
      say(`reading stream ${link.stream} as durable ${flags.durable}`);
      await consumer.run((batch) => deliverTo(outputs, batch, counts));
    } finally {
      await link.close();
      await outputs.close(5000);
    }
    const { lines, ok } = summarize(outputs, { read: counts.alerts, malformed: counts.malformed, httpResponses: {}, refusedConnections: 0 });
    for (const line of lines) say(line);
    say(`stopped; ${counts.alerts} alerts taken (${counts.redelivered} delivered before, to a consume that did not ack them)`);
    process.exitCode = ok ? 0 : 1;
  });
}

function checkConfig(file: string, report: Report) {
  const config = loadConfigFile(file);
  checkTopLevelKeys(config, report);
  return config;
}
