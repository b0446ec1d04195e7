// Worker entry point (one thread per output, started by src/host/output-thread.ts): drains one
// output's ring. gRPC outputs run the sender (src/destinations/grpc/sender.ts); classic outputs
// run a channel through the drain loop (src/worker/channel-drain.ts). Draining starts when the
// module loads, from workerData, so it never waits for the host's event loop: a host that blocks
// right away (onFull 'block') is still drained. A replacement thread, started after a crash,
// starts the same way on the same ring and resumes from the last acknowledged alert.

import { parentPort, workerData } from 'node:worker_threads';
import { RingConsumer } from '../ring/ring.js';
import { Sender } from '../destinations/grpc/sender.js';
import { ChannelDrain } from './channel-drain.js';
import { createChannel } from '../destinations/channels/registry.js';
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
const drain = data.kind === 'grpc' ? null : new ChannelDrain(consumer, createChannel(data.channel), data.format, data.batchAlerts);
const running =
  data.kind === 'grpc'
    ? new Sender(consumer, data.config, {
        error: (error) => report({ kind: 'error', error }),
        log: (line) => report({ kind: 'log', line }),
      }).run()
    : drain!.run();
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
