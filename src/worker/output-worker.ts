// Worker entry point (one thread per output, started by src/host/output-thread.ts): drains one
// output's ring. gRPC outputs run the sender (src/destinations/grpc/sender.ts); classic outputs
// run a channel through the drain loop (src/worker/channel-drain.ts). Both read from one record
// source: the ring itself, or with a spool (src/spool/) the spool's files, which this thread fills
// from the ring. Draining starts when the module loads, from workerData, so it never waits for the
// host's event loop: a host that blocks right away (onFull 'block') is still drained. A replacement
// thread, started after a crash, starts the same way on the same ring and resumes from the last
// acknowledged alert.

import { parentPort, workerData } from 'node:worker_threads';
import { RingConsumer } from '../ring/ring.js';
import type { RecordSource } from '../ring/record-source.js';
import { Sender } from '../destinations/grpc/sender.js';
import { ChannelDrain } from './channel-drain.js';
import { createChannel } from '../destinations/channels/registry.js';
import { SpoolSource } from '../spool/spool-source.js';
import { errorText } from '../common/errors.js';
import type { OutputWorkerData, WorkerReport, WorkerRequest } from './contract.js';

const report = (message: WorkerReport): void => parentPort?.postMessage(message);

// Node's warnings in this thread go to the host's log hook, not raw to stderr. DEP0123 is left
// out: grpc-js hands an IP target to TLS as the server name, which Node deprecates, while the
// certificate check itself (its IP SAN) is unaffected; the user can do nothing about it.
process.removeAllListeners('warning');
process.on('warning', (warning: Error & { code?: string }) => {
  if (warning.code !== 'DEP0123') report({ kind: 'log', line: `falco-grpc-output: worker: ${warning.name}: ${warning.message}` });
});

const data = workerData as OutputWorkerData;
const consumer = new RingConsumer(data.buffer);
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
  // Crash the thread: the host starts another, which resumes from the last ack.
  setImmediate(() => {
    throw err;
  });
});

parentPort?.on('message', ({ id, task }: WorkerRequest) => {
  const done = task.kind === 'reopen' ? Promise.resolve(drain?.reopen()) : running;
  done.then(
    () => report({ kind: 'done', id }),
    (err: unknown) => report({ kind: 'done', id, error: errorText(err) }),
  );
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
    const reason = `spool ${data.spool.dir} cannot be opened: ${errorText(err)}`;
    // A replacement thread cannot fall back: sequence numbers already continue the spool's.
    if (consumer.spoolState() === 'open') throw new Error(reason);
    report({ kind: 'error', error: reason });
    report({ kind: 'log', line: `falco-grpc-output: ${reason}; sending from memory only, without a spool` });
    consumer.setSpoolState('failed');
    return null;
  }
}
