// Worker entry point (hosted by piscina, one thread): owns the gRPC connection of one
// transmitter. 'start' returns at once so the pool does not hold the host process open;
// the sender keeps running on this thread's event loop until the host asks it to close.

import { RingConsumer } from '../src/ring/ring.js';
import { Sender } from '../src/transmitter/sender.js';
import type { SenderConfig } from '../src/transmitter/options.js';

export type WorkerTask = { kind: 'start'; buffer: SharedArrayBuffer; config: SenderConfig } | { kind: 'stop' };

let running: Promise<void> | null = null;

export default async function task(message: WorkerTask): Promise<void> {
  if (message.kind === 'start') {
    running = new Sender(new RingConsumer(message.buffer), message.config).run();
    running.catch((err: unknown) => {
      // Crash the thread: the host replaces it and the new sender resumes from the last ack.
      setImmediate(() => {
        throw err;
      });
    });
    return;
  }
  await running;
}
