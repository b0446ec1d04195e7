// One run of the emit() yardstick, in a process of its own: emit() into a real gRPC output (its
// worker, an embedded `receive` child over loopback mTLS) and JSON.stringify of the same alert,
// timed call by call and interleaved, so machine noise hits both alike.
//
// Usage: node bench/emit-peer.mjs healthy|stalled|down '{"rate":50000,"count":150000}'
//   → prints the report JSON.
//
// Alert sets: the 1,000 sample alerts (test/fixtures/falco-alerts.jsonl, JSON.parse'd as a Node.js
// user would hold them: emit() and JSON.stringify get the very same object), and the 630-byte
// reference alert (bigint time and evt.time: JSON.stringify gets a twin with those as decimal
// strings, made beforehand, as JSON has no bigint).

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createHistogram } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { createGrpcOutput } from '../dist/src/index.js';
import { EmbeddedReceiver } from '../dist/src/flood/embedded-receiver.js';
import { referenceAlert } from '../dist/src/synthetic/alerts.js';
import { jsonSafeAlert } from './peers/alert-to-response.mjs';

const SAMPLES = fileURLToPath(new URL('../test/fixtures/falco-alerts.jsonl', import.meta.url));
const [receiverMode = 'healthy', json = '{}'] = process.argv.slice(2);
const options = { rate: 50_000, count: 150_000, warmup: 30_000, tickMs: 1, ...JSON.parse(json), receiver: receiverMode };
if (!['healthy', 'stalled', 'down'].includes(options.receiver)) throw new Error(`receiver ${options.receiver}: one of healthy, stalled, down`);

function alertSets() {
  const lines = readFileSync(SAMPLES, 'utf8').split('\n').filter((l) => l !== '');
  const samples = lines.map((l) => JSON.parse(l));
  const baseNs = BigInt(Date.now()) * 1_000_000n;
  const reference = Array.from({ length: 1000 }, (_, i) => referenceAlert(i, baseNs + BigInt(i) * 1000n));
  return {
    samples: { emit: samples, json: samples },
    reference: { emit: reference, json: reference.map(jsonSafeAlert) },
  };
}

const percentiles = (h) => ({ p50: h.percentile(50) / 1000, p90: h.percentile(90) / 1000, p99: h.percentile(99) / 1000, p999: h.percentile(99.9) / 1000 });

/**
 * `count` pairs, paced at `rate` in ticks of `tickMs` (what is due each tick, as the flood does):
 * emit() then JSON.stringify on even calls, the other way round on odd ones.
 */
async function measure(output, set, count, rate, tickMs) {
  const emitNs = createHistogram();
  const jsonNs = createHistogram();
  let length = 0;
  let i = 0;
  const start = performance.now();
  const now = process.hrtime.bigint;
  while (i < count) {
    const due = rate === 'max' ? i + 1000 : Math.min(count, Math.floor(((performance.now() - start) / 1000) * rate));
    for (; i < due && i < count; i++) {
      const k = i % set.emit.length;
      const alert = set.emit[k];
      const twin = set.json[k];
      if (i & 1) {
        const t0 = now();
        output.emit(alert);
        const t1 = now();
        length += JSON.stringify(twin).length;
        const t2 = now();
        emitNs.record(Number(t1 - t0) || 1);
        jsonNs.record(Number(t2 - t1) || 1);
      } else {
        const t0 = now();
        length += JSON.stringify(twin).length;
        const t1 = now();
        output.emit(alert);
        const t2 = now();
        jsonNs.record(Number(t1 - t0) || 1);
        emitNs.record(Number(t2 - t1) || 1);
      }
    }
    if (rate === 'max') await new Promise(setImmediate);
    else await sleep(tickMs);
  }
  const emit = percentiles(emitNs);
  const json = percentiles(jsonNs);
  return {
    emitUs: emit,
    stringifyUs: json,
    ratioP50: emit.p50 / json.p50,
    ratioP99: emit.p99 / json.p99,
    emitP99OverP50: emit.p99 / emit.p50,
    jsonBytesPerAlert: length / count,
  };
}

/** What two back-to-back hrtime.bigint() calls cost: included in both columns alike. */
function timerOverheadNs() {
  const h = createHistogram();
  for (let i = 0; i < 100_000; i++) {
    const t0 = process.hrtime.bigint();
    h.record(Number(process.hrtime.bigint() - t0) || 1);
  }
  return h.percentile(50);
}

const receiver = new EmbeddedReceiver('mtls');
const connection = await receiver.start(options.receiver === 'down' ? { kind: 'down' } : { kind: 'none' });
const output = createGrpcOutput(connection);
const sets = alertSets();

// Warm up (JIT, the stream up); with a healthy receiver, start measuring from an empty ring.
for (const set of Object.values(sets)) await measure(output, set, options.warmup, 'max', 0);
if (options.receiver !== 'down') await output.flush(10_000);
if (options.receiver === 'stalled') {
  receiver.control('stall');
  await sleep(200);
}

const before = output.stats();
const report = { receiver: options.receiver, rate: options.rate, count: options.count, timerOverheadNs: timerOverheadNs(), sets: {} };
for (const [name, set] of Object.entries(sets)) report.sets[name] = await measure(output, set, options.count, options.rate, options.tickMs);
const stats = output.stats();
// What happened while measuring (the warm-up floods the ring, and may drop).
report.emitted = stats.emitted - before.emitted;
report.acked = stats.acked - before.acked;
report.dropped = stats.dropped - before.dropped;
if (options.receiver === 'stalled') receiver.control('resume');
await output.close(1000);
await receiver.close();
process.stdout.write(`${JSON.stringify(report)}\n`);
process.exit(0);
