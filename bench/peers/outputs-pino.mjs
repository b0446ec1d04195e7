// Peer "pino transport" of the classic outputs benchmark: what a Node.js user would pick. pino
// serializes each alert to a JSON line on the main thread; thread-stream hands the lines to one
// worker, which runs pino/file for a file alone, or every target behind pino's multistream.

import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { jsonSafeAlert } from './alert-to-response.mjs';
import { closePinoTransport, within } from './pino-transport.mjs';

const HTTP_TRANSPORT = fileURLToPath(new URL('./pino-http-transport.mjs', import.meta.url));
const GRPC_TRANSPORT = fileURLToPath(new URL('./pino-grpc-transport.mjs', import.meta.url));

/**
 * @param {{ file: string | null, httpUrl: string | null, grpc: { target: string } | null }} dest
 * @returns {import('../outputs-peer.mjs').OutputsPeer}
 */
export function createPinoPeer(dest) {
  const targets = [
    ...(dest.file ? [{ target: 'pino/file', options: { destination: dest.file } }] : []),
    ...(dest.httpUrl ? [{ target: HTTP_TRANSPORT, options: { url: dest.httpUrl } }] : []),
    ...(dest.grpc ? [{ target: GRPC_TRANSPORT, options: dest.grpc }] : []),
  ];
  const transport = pino.transport(targets.length === 1 ? targets[0] : { targets });
  const logger = pino(transport);
  let failed = false;
  transport.on('error', () => (failed = true));
  return {
    emit(alert) {
      logger.info(jsonSafeAlert(alert));
      return true;
    },
    // Resolves once the worker has every line (and, for a single target, once that target flushed);
    // behind the multistream, the targets' own progress is not visible: the harness counts at each destination.
    async flush(timeoutMs) {
      if (failed) return false;
      const flushed = new Promise((resolve) => logger.flush((err) => resolve(!err)));
      return within(flushed, timeoutMs, false);
    },
    drops: () => ({ file: 0, http: 0, grpc: 0 }), // pino never drops: what does not fit waits in memory
    close: () => closePinoTransport(transport),
  };
}
