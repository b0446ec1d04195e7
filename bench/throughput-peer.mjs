// One max-rate throughput run, in a process of its own with its own `receive --discard` child:
// this project's transmitter, or the ceiling — grpc-js with pre-encoded PublishRequests and
// nothing else (no ring, no worker, no per-alert work: the same 630-byte alert bytes repeated,
// 1 MiB requests, written as fast as grpc-js's backpressure allows). Both over the same transport,
// so the ratio is what our pipeline costs against what grpc-js and the receiver can carry at all.
//
// Usage: node bench/throughput-peer.mjs <peer> '{"transport":"unix"|"mtls","seconds":N}'
//   → prints { acked, seconds, ackedPerSec, peerCpuUsPerAlert, mainCpuUsPerAlert, receiverCpuUsPerAlert } as JSON.

import { cpuSeconds } from './runs.mjs';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import { createGrpcOutput } from '../dist/src/index.js';
import { EmbeddedReceiver } from '../dist/src/flood/embedded-receiver.js';
import { referenceAlert } from '../dist/src/synthetic/alerts.js';
import { AlertEncoder } from '../dist/src/codec/alert.js';
import { PublishRequestWriter } from '../dist/src/codec/publish-request.js';
import { mainThreadCpuMicros } from '../dist/src/flood/main-thread-cpu.js';

const WARMUP_MS = 1000;
/** Requests the ceiling keeps unacknowledged at once (the receiver holds up to 8 in hand). */
const CEILING_WINDOW = 16;
const REQUEST_BYTES = 1024 * 1024;

const [peer, optionsJson] = process.argv.slice(2);
const { transport, seconds } = JSON.parse(optionsJson);


/** This project's transmitter: emit() the reference alert in a loop; a full ring makes emit() wait (onFull 'block'), so nothing is dropped. */
function ours(connection) {
  const output = createGrpcOutput({ ...connection, onFull: 'block', blockTimeoutMs: 60_000 });
  const alert = referenceAlert(1, BigInt(Date.now()) * 1_000_000n);
  let running = true;
  const loop = (async () => {
    while (running) {
      for (let i = 0; i < 2000; i++) output.emit(alert);
      await yieldToLoop();
    }
  })();
  return {
    acked: () => output.stats().acked,
    stop: async () => {
      running = false;
      await loop;
      await output.close();
    },
  };
}

/** The ceiling: a grpc-js Publish stream fed pre-encoded requests, CEILING_WINDOW in flight. */
function ceiling(connection) {
  const credentials = connection.tls
    ? grpc.credentials.createSsl(Buffer.from(connection.tls.ca), Buffer.from(connection.tls.key), Buffer.from(connection.tls.cert))
    : grpc.credentials.createInsecure();
  const client = new grpc.Client(connection.target, credentials, { 'grpc.max_send_message_length': -1, 'grpc.enable_retries': 0 });
  const encoder = new AlertEncoder(64 * 1024);
  const length = encoder.encode(referenceAlert(1, BigInt(Date.now()) * 1_000_000n));
  const alertBytes = Buffer.from(encoder.scratch.subarray(0, length));
  const perRequest = Math.floor(REQUEST_BYTES / (length + 3));
  const writer = new PublishRequestWriter(`ceiling-${process.pid}`, perRequest);
  const call = client.makeBidiStreamRequest('/falco.transmit.v1.Transmitter/Publish', (b) => b, (b) => b);
  let ackedThrough = 0;
  let nextSeq = 1;
  let running = true;
  let wake = null;
  call.on('data', (ack) => {
    // PublishAck { acked_through = 1 }: a tag byte, then a varint.
    let v = 0;
    for (let i = 1, mul = 1; i < ack.length; i++, mul *= 128) {
      v += (ack[i] & 0x7f) * mul;
      if (ack[i] < 0x80) break;
    }
    ackedThrough = v;
    wake?.();
  });
  call.on('drain', () => wake?.());
  call.on('error', () => {});
  const loop = (async () => {
    while (running) {
      const inFlight = (nextSeq - 1 - ackedThrough) / perRequest;
      if (inFlight >= CEILING_WINDOW) {
        await new Promise((resolve) => (wake = resolve));
        wake = null;
        continue;
      }
      for (let i = 0; i < perRequest; i++) writer.add(alertBytes, 0, length);
      const ok = call.write(writer.finish(nextSeq));
      nextSeq += perRequest;
      if (!ok) {
        await new Promise((resolve) => (wake = resolve));
        wake = null;
      }
    }
  })();
  return {
    acked: () => ackedThrough,
    stop: async () => {
      running = false;
      wake?.();
      await loop;
      call.end();
      client.close();
    },
  };
}

const PEERS = { 'falco-grpc-output': ours, 'grpc-js, pre-encoded requests (ceiling)': ceiling };
if (!PEERS[peer]) {
  process.stderr.write(`unknown peer "${peer}"; one of: ${Object.keys(PEERS).join(', ')}\n`);
  process.exit(2);
}

const receiver = new EmbeddedReceiver(transport);
const connection = await receiver.start({ kind: 'none' });
const run = PEERS[peer](connection);
await new Promise((resolve) => setTimeout(resolve, WARMUP_MS));
const a0 = run.acked();
const peer0 = process.cpuUsage();
const main0 = mainThreadCpuMicros();
const rx0 = cpuSeconds(receiver.pid);
const t0 = performance.now();
await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
const acked = run.acked() - a0;
const elapsed = (performance.now() - t0) / 1000;
const peerCpu = process.cpuUsage(peer0);
const mainCpu = mainThreadCpuMicros() - main0;
const rxCpu = cpuSeconds(receiver.pid) - rx0;
await run.stop();
await receiver.close();
process.stdout.write(
  `${JSON.stringify({
    peer,
    transport,
    acked,
    seconds: elapsed,
    ackedPerSec: acked / elapsed,
    peerCpuUsPerAlert: (peerCpu.user + peerCpu.system) / Math.max(1, acked),
    // The main thread alone: for ours the emit() loop, for the ceiling everything (it has no other thread doing work).
    mainCpuUsPerAlert: mainCpu / Math.max(1, acked),
    receiverCpuUsPerAlert: (rxCpu * 1e6) / Math.max(1, acked),
  })}\n`,
);
process.exit(0);
