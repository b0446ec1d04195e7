// The pino transport behind peer "pino transport", run by pino's thread-stream in a worker:
// parses pino's JSON lines back into alerts, batches them into PublishRequests on one grpc-js
// Publish stream, respects write() backpressure, and tracks acks so that flush and close can
// wait for the receiver. No reconnect: a failed stream ends the transport (pino reports it).

import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import build from 'pino-abstract-transport';
import { alertFromJson, alertToResponse } from './alert-to-response.mjs';
import { createTransmitterClient } from './transmitter-client.mjs';

const MAX_BATCH = 1000;
/** thread-stream's end() gives the worker 10 s in all; leave it time to report. */
const CLOSE_WAIT_MS = 8000;

/** @param {import('../../dist/src/flood/target.js').FloodConnection} connection */
export default function grpcTransport(connection) {
  const client = createTransmitterClient(connection);
  const call = client.publish();
  const producerId = randomUUID();
  let sentSeq = 0; // sequence number of the last alert written to the stream
  let ackedSeq = 0;
  /** @type {Error | null} */
  let failed = null;
  call.on('data', (ack) => (ackedSeq = Number(ack.ackedThrough)));
  call.on('error', (err) => (failed = err));

  /** @type {import('../../dist/src/gen/falco/outputs/outputs.js').response[]} */
  let batch = [];
  async function send() {
    if (failed) throw failed;
    const alerts = batch;
    batch = [];
    const ok = call.write({ producerId, firstSeq: BigInt(sentSeq + 1), alerts });
    sentSeq += alerts.length;
    if (!ok) await once(call, 'drain'); // rejects if the stream errors meanwhile
  }

  const stream = build(
    async (source) => {
      for await (const obj of source) {
        batch.push(alertToResponse(alertFromJson(obj)));
        // Send a full batch, or whatever has arrived once nothing more is buffered.
        if (batch.length >= MAX_BATCH || source.readableLength === 0) await send();
      }
    },
    {
      // Called when the stream ends (pino's end()) or fails: wait for the last acks, bounded.
      async close(err) {
        const deadline = Date.now() + CLOSE_WAIT_MS;
        while (!err && !failed && ackedSeq < sentSeq && Date.now() < deadline) await sleep(5);
        call.end();
        client.close();
      },
    },
  );

  // thread-stream calls this on logger.flush(), once every byte written so far is in `stream`:
  // resolve when all of it has been parsed, sent and acknowledged. A stalled receiver keeps it
  // pending (the caller times out); a failed stream rejects, which thread-stream reports as an error.
  stream.flush = async () => {
    while (stream.writableLength > 0 || stream.readableLength > 0 || batch.length > 0 || ackedSeq < sentSeq) {
      if (failed) throw failed;
      await sleep(5);
    }
  };
  return stream;
}
