// Worker entry point (hosted by piscina, one thread per output): drains one output's ring.
// gRPC outputs run the sender (src/destinations/grpc/sender.ts); classic outputs run a channel
// through the drain loop (src/worker/channel-drain.ts). Both read from one record source: the
// ring itself, or with a spool (src/spool/) the spool's files, which this thread fills from the
// ring. Draining starts when the module loads, from workerData, so it never waits for the host's
// event loop: a host that blocks right away (onFull 'block') is still drained. Every replacement
// thread piscina creates after a crash starts the same way, on the same ring, and resumes from the
// last acknowledged alert.

import { parentPort, workerData } from 'node:worker_threads';
import { RingConsumer } from '../ring/ring.js';
import type { RecordSource } from '../ring/record-source.js';
import { Sender } from '../destinations/grpc/sender.js';
import { ChannelDrain } from './channel-drain.js';
import { createChannel } from '../destinations/channels/registry.js';
import { SpoolSource } from '../spool/spool-source.js';
import type { OutputWorkerData, OutputWorkerTask, WorkerReport } from './contract.js';

const data = workerData as OutputWorkerData;
const consumer = new RingConsumer(data.buffer);
const report = (message: WorkerReport): void => parentPort?.postMessage(message);
const spool = openSpool();
const source: RecordSource = spool ?? consumer;
const drain = data.kind === 'grpc' ? null : new ChannelDrain(source, createChannel(data.channel), data.format, data.batchAlerts);
const consuming =
  data.kind === 'grpc'
    ? new Sender(source, spool?.producerId ? { ...data.config, producerId: spool.producerId } : data.config, {
        error: (error) => report({ kind: 'error', error }),
        log: (line) => report({ kind: 'log', line }),
      }).run()
    : drain!.run();
const running = spool === null ? consuming : Promise.all([consuming, spool.run()]).then(() => spool.close());
running.catch((err: unknown) => {
  // Crash the thread: piscina replaces it and the new one resumes from the last ack.
  setImmediate(() => {
    throw err;
  });
});

/**
 * The spool, or null without one. A spool that cannot be opened is reported, and the ring alone
 * carries on (under this process's own producer id): alerts keep flowing, only not to disk.
 */
function openSpool(): SpoolSource | null {
  if (data.spool === null || consumer.spoolState() === 'failed') return null;
  const identity = data.kind === 'grpc' ? { fresh: data.config.producerId, requested: data.requestedProducerId } : null;
  try {
    return new SpoolSource(consumer, data.spool, identity, {
      log: (line) => report({ kind: 'log', line }),
      error: (error) => report({ kind: 'error', error }),
    });
  } catch (err) {
    const reason = `spool ${data.spool.dir} cannot be opened: ${err instanceof Error ? err.message : String(err)}`;
    // A replacement thread cannot fall back: sequence numbers already continue the spool's.
    if (consumer.spoolState() === 'open') throw new Error(reason);
    report({ kind: 'error', error: reason });
    report({ kind: 'log', line: `falco-grpc-output: ${reason}; sending from memory only, without a spool` });
    consumer.setSpoolState('failed');
    return null;
  }
}

export default async function task(message: OutputWorkerTask): Promise<void> {
  if (message.kind === 'reopen') drain?.reopen();
  else await running;
}
