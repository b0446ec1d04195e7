// Peer "naive main thread" of the classic outputs benchmark: what a Node.js user writes without a
// library, all on the main thread: JSON.stringify once per alert, fs.createWriteStream().write()
// with its return value ignored, one http.request per alert on a keep-alive agent, and the
// grpc-js Publish stream of the gRPC benchmark's naive peer.

import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { jsonSafeAlert } from './alert-to-response.mjs';
import { createPoster } from './http-poster.mjs';
import { createNaiveGrpcTarget } from './naive-grpc.mjs';

/**
 * @param {{ file: string | null, httpUrl: string | null, grpc: { target: string } | null }} dest
 * @returns {import('../outputs-peer.mjs').OutputsPeer}
 */
export function createNaivePeer(dest) {
  const file = dest.file ? createWriteStream(dest.file, { flags: 'a' }) : null;
  const poster = dest.httpUrl ? createPoster(dest.httpUrl) : null;
  const grpc = dest.grpc ? createNaiveGrpcTarget(dest.grpc) : null;
  return {
    emit(alert) {
      if (file || poster) {
        const line = JSON.stringify(jsonSafeAlert(alert));
        file?.write(`${line}\n`);
        void poster?.post(line);
      }
      grpc?.emit(alert);
      return true;
    },
    async flush(timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      const grpcDone = grpc ? await grpc.flush(timeoutMs) : true;
      while ((file?.writableLength ?? 0) + (poster?.inFlight() ?? 0) > 0 && Date.now() < deadline) await sleep(5);
      return grpcDone && (file?.writableLength ?? 0) + (poster?.inFlight() ?? 0) === 0 && (poster?.failed() ?? 0) === 0;
    },
    drops: () => ({ file: 0, http: 0, grpc: 0 }), // nothing is dropped on purpose; failed requests are lost
    async close() {
      if (file) {
        file.end();
        await once(file, 'close');
      }
      poster?.close();
      await grpc?.close();
    },
  };
}
