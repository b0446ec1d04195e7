// Worker entry point (hosted by piscina, one thread per output): drains one output's ring.
// gRPC outputs run the sender (src/destinations/grpc/sender.ts); classic outputs run a channel
// through the drain loop (src/worker/channel-drain.ts). Draining starts when the module loads, from
// workerData, so it never waits for the host's event loop: a host that blocks right away
// (onFull 'block') is still drained. Every replacement thread piscina creates after a crash
// starts the same way, on the same ring, and resumes from the last acknowledged alert.

import { parentPort, workerData } from 'node:worker_threads';
import { RingConsumer } from '../ring/ring.js';
import { Sender } from '../destinations/grpc/sender.js';
import { ChannelDrain } from './channel-drain.js';
import { createChannel } from '../destinations/channels/registry.js';
import type { OutputWorkerData, OutputWorkerTask, WorkerReport } from './contract.js';

const data = workerData as OutputWorkerData;
const consumer = new RingConsumer(data.buffer);
const drain = data.kind === 'grpc' ? null : new ChannelDrain(consumer, createChannel(data.channel), data.format, data.batchAlerts);
const report = (message: WorkerReport): void => parentPort?.postMessage(message);
const running =
  data.kind === 'grpc'
    ? new Sender(consumer, data.config, {
        error: (error) => report({ kind: 'error', error }),
        log: (line) => report({ kind: 'log', line }),
      }).run()
    : drain!.run();
running.catch((err: unknown) => {
  // Crash the thread: piscina replaces it and the new one resumes from the last ack.
  setImmediate(() => {
    throw err;
  });
});

export default async function task(message: OutputWorkerTask): Promise<void> {
  if (message.kind === 'reopen') drain?.reopen();
  else await running;
}
