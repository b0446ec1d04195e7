// Peer "pino transport": what a Node.js user would otherwise build with pino's worker-thread
// transport. The main thread serializes each alert to JSON (pino) and thread-stream copies it
// into a SharedArrayBuffer for the worker, queueing on the main thread, without bound, what
// does not fit; the worker (pino-grpc-transport.mjs) does the gRPC side.

import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { progressWithoutAcks } from '../../dist/src/flood/target.js';
import { jsonSafeAlert } from './alert-to-response.mjs';

const TRANSPORT = fileURLToPath(new URL('./pino-grpc-transport.mjs', import.meta.url));
const CLOSE_TIMEOUT_MS = 30_000;

/**
 * `promise`, or `fallback` after `ms`. The timer is ref'd on purpose: pino unrefs its worker,
 * so without it nothing would keep the process alive while waiting for that worker.
 */
export function within(promise, ms, fallback) {
  let timer;
  const timeout = new Promise((resolve) => (timer = setTimeout(resolve, ms, fallback)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * @param {import('../../dist/src/flood/target.js').FloodConnection} connection
 * @returns {import('../../dist/src/flood/target.js').FloodTarget}
 */
export function createPinoTarget(connection) {
  const transport = pino.transport({ target: TRANSPORT, options: connection });
  const logger = pino(transport);
  /** @type {Error | null} */
  let failed = null;
  // The worker's failures arrive here; after one, every write reports "the worker has exited".
  transport.on('error', (err) => (failed ??= err));

  return {
    emit(alert) {
      logger.info(jsonSafeAlert(alert));
      return true;
    },
    // The main thread cannot see the receiver's acks.
    progress: () => progressWithoutAcks(),
    // logger.flush drains thread-stream's queue into the worker, then the transport's flush
    // waits for the receiver's acks.
    async flush(timeoutMs) {
      if (failed) return false;
      const flushed = new Promise((resolve) => logger.flush((err) => resolve(!err)));
      return within(flushed, timeoutMs, false);
    },
    close: () => closePinoTransport(transport),
  };
}

/** Ends a pino transport and waits for its worker to finish; stops the worker if it takes too long. */
export async function closePinoTransport(transport) {
  if (transport.closed) return;
  // Not events.once: it rejects on 'error', which a failed worker emits on the way to 'close'.
  const closed = new Promise((resolve) => transport.once('close', resolve));
  // end() blocks this thread (up to thread-stream's own 10 s) while the worker finishes.
  transport.end();
  if ((await within(closed, CLOSE_TIMEOUT_MS, 'timeout')) === 'timeout') await transport.worker.terminate();
}
