// Worker entry point (hosted by piscina, one thread): owns the gRPC connection of one
// transmitter. The sender starts when the module loads, from workerData, so it never waits
// for the host's event loop: a host that blocks right away (onFull 'block') is still drained.
// Every replacement thread piscina creates after a crash starts the same way, on the same
// ring, and resumes from the last acknowledged alert.

import { workerData } from 'node:worker_threads';
import { RingConsumer } from '../src/ring/ring.js';
import { Sender } from '../src/transmitter/sender.js';
import type { SenderConfig } from '../src/transmitter/options.js';

export interface WorkerData {
  buffer: SharedArrayBuffer;
  config: SenderConfig;
}

/** The only task: resolves when the sender has finished after the host requested close. */
export type WorkerTask = { kind: 'stop' };

const { buffer, config } = workerData as WorkerData;
const running = new Sender(new RingConsumer(buffer), config).run();
running.catch((err: unknown) => {
  // Crash the thread: piscina replaces it and the new sender resumes from the last ack.
  setImmediate(() => {
    throw err;
  });
});

export default async function task(_message: WorkerTask): Promise<void> {
  await running;
}
