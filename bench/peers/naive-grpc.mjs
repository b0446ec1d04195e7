// Peer "grpc-js main thread": what a Node.js user writes without this project. One grpc-js
// Publish stream on the main thread, one alert per PublishRequest, ts-proto encoding inside
// grpc-js's serializer on the main thread, write()'s return value ignored (so a stalled
// receiver makes grpc-js buffer without bound), no reconnect.

import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { response } from '../../dist/src/gen/falco/outputs/outputs.js';
import { alertToResponse } from './alert-to-response.mjs';
import { createTransmitterClient } from './transmitter-client.mjs';

/** Re-measure the encoded size this often: pendingBytes is an estimate, not worth a second encode per alert. */
const SIZE_SAMPLE_EVERY = 4096;

/**
 * @param {import('../../dist/src/flood/target.js').FloodConnection} connection
 * @returns {import('../../dist/src/flood/target.js').FloodTarget}
 */
export function createNaiveGrpcTarget(connection) {
  const client = createTransmitterClient(connection);
  const call = client.publish();
  const producerId = randomUUID();
  let seq = 0;
  let ackedSeq = 0;
  let alertBytes = 0;
  /** @type {Error | null} */
  let failed = null;

  call.on('data', (ack) => (ackedSeq = Number(ack.ackedThrough)));
  // Without a listener a failed stream would crash the process; naive code just stops here.
  call.on('error', (err) => (failed = err));

  return {
    emit(alert) {
      const resp = alertToResponse(alert);
      seq++;
      if (seq % SIZE_SAMPLE_EVERY === 1) alertBytes = response.encode(resp).finish().length;
      if (!failed) call.write({ producerId, firstSeq: BigInt(seq), alerts: [resp] });
      return true;
    },
    progress: () => ({
      acked: ackedSeq,
      ackedSeq,
      dropped: 0,
      drops: { full: 0, too_large: 0, invalid: 0, rejected: 0 },
      pendingBytes: (seq - ackedSeq) * alertBytes,
      capacityBytes: 0,
      resent: 0,
      reconnects: 0,
    }),
    async flush(timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (ackedSeq < seq && !failed && Date.now() < deadline) await sleep(5);
      return ackedSeq >= seq && !failed;
    },
    async close() {
      if (!failed) {
        // Half-close and give the receiver a moment to end its side ('status'), then drop the channel regardless.
        let timer;
        await new Promise((resolve) => {
          call.once('status', resolve);
          timer = setTimeout(resolve, 1000);
          call.end();
        });
        clearTimeout(timer);
      }
      client.close();
    },
  };
}
