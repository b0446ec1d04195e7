// The gRPC sender's requests on the wire, seen by a peer written on node:http2: whatever the
// receiver acknowledges and however slowly it reads, each request carries the alerts its
// sequence numbers name, byte for byte. (The sender reuses its request buffers.)

import http2 from 'node:http2';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createRingBuffer, RingConsumer, RingProducer } from '../dist/src/ring/ring.js';
import { Sender } from '../dist/src/destinations/grpc/sender.js';
import { PublishAck, PublishRequest } from '../dist/src/gen/falco/transmit/v1/transmit.js';
import { response } from '../dist/src/gen/falco/outputs/outputs.js';
import { waitFor } from './helpers/harness.js';
import { grpcFrame } from './helpers/hostile.js';

/** Alert #seq, encoded as the host encodes one: about 3 KB, its number in its output. */
const outputFor = (seq: number) => `#${seq}# ${String.fromCharCode(0x61 + (seq % 26)).repeat(3000)}`;
const payloadFor = (seq: number) =>
  Buffer.from(response.encode({ time: { seconds: 1764219600n, nanos: seq }, priority: 5, sourceDeprecated: 0, rule: 'r', output: outputFor(seq), outputFields: {}, hostname: 'h', tags: [], source: 'syscall' }).finish());

describe('sender requests', () => {
  it('an ack that runs ahead of the stream (the receiver had the alerts) while it reads slowly: every request holds its own alerts', async () => {
    // A replacement worker resends #1..#1800, about five 1 MiB requests, which the receiver
    // already has: it acks #1800 on the first request and reads nothing for a while, so the
    // rest wait queued in grpc-js while new alerts come in behind them.
    const resend = 1800;
    const received: Buffer[] = [];
    let messages = 0;
    let resumed!: () => void;
    const readingAgain = new Promise<void>((resolve) => (resumed = resolve));
    const server = http2.createServer();
    server.on('stream', (stream) => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      let pending = Buffer.alloc(0);
      stream.on('data', (chunk: Buffer) => {
        pending = Buffer.concat([pending, chunk]);
        while (pending.length >= 5 && pending.length >= 5 + pending.readUInt32BE(1)) {
          const length = pending.readUInt32BE(1);
          received.push(Buffer.from(pending.subarray(5, 5 + length)));
          pending = pending.subarray(5 + length);
          if (++messages === 1) {
            stream.write(grpcFrame(Buffer.from(PublishAck.encode({ ackedThrough: BigInt(resend) }).finish())));
            stream.pause();
            setTimeout(() => {
              stream.resume();
              resumed();
            }, 800);
          }
        }
      });
      stream.on('end', () => stream.end());
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;
    try {
      const buffer = createRingBuffer(16 * 1024 * 1024);
      const producer = new RingProducer(buffer);
      const write = (seq: number) => {
        const bytes = payloadFor(seq);
        return producer.tryWrite(bytes, bytes.length);
      };
      for (let seq = 1; seq <= resend; seq++) expect(write(seq)).toBe(true);
      const consumer = new RingConsumer(buffer);
      consumer.setHighestSent(resend); // as a replacement worker finds the header
      const errors: string[] = [];
      const sender = new Sender(
        consumer,
        { target: `127.0.0.1:${port}`, tls: null, serverName: undefined, producerId: 'p', batchBytes: 1024 * 1024, batchAlerts: 100_000, lingerMs: 2, keepaliveMs: 0, reconnectInitialMs: 100, reconnectMaxMs: 1000 },
        { error: (text) => errors.push(text), log: (line) => errors.push(line) },
      );
      const running = sender.run();
      await waitFor(() => `the receiver's ack of #${resend} (acked: ${producer.ackedSeq()})`, () => producer.ackedSeq() >= resend);
      // New alerts in small groups while the receiver is not reading.
      let next = resend + 1;
      for (let group = 0; group < 30; group++) {
        for (let k = 0; k < 20; k++, next++) expect(write(next)).toBe(true);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await readingAgain;
      const newest = next - 1;
      const seen = new Set<number>();
      const wrong: string[] = [];
      const take = (): boolean => {
        for (const message of received.splice(0)) {
          const request = PublishRequest.decode(message);
          request.alerts.forEach((alert, k) => {
            const seq = Number(request.firstSeq) + k;
            seen.add(seq);
            if (alert.output !== outputFor(seq)) wrong.push(`#${seq}`);
          });
        }
        return seen.has(newest);
      };
      await waitFor(() => `alert #${newest} on the wire (${seen.size} alerts seen)`, take);
      producer.requestClose();
      await running;
      expect(wrong).toEqual([]);
      expect(Array.from({ length: newest - resend }, (_, i) => resend + 1 + i).filter((seq) => !seen.has(seq))).toEqual([]);
      expect(errors).toEqual([]);
    } finally {
      server.close();
    }
  });
});
