// The ceiling for the scale scenario: publishing 650-byte alerts to JetStream straight from
// nats.js, with a Nats-Msg-Id each, no gRPC and no receiver.
//   core:      core NATS publishes with a reply token under one wildcard inbox subscription and a
//              bounded window of outstanding PubAcks (the technique the receiver's bus uses)
//   jspublish: js.publish() promises, pipelined with the same window
// Usage: node bus-publisher.mjs MODE URL STREAM SECONDS WINDOW; prints one JSON line.

import { connect, createInbox, headers } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';

const [mode, url, stream, seconds, windowArg] = process.argv.slice(2);
const window = Number(windowArg);
const nc = await connect({ servers: url, noAsyncTraces: true });
const payload = new Uint8Array(650).fill(0x61);
const subject = 'falco.alerts.warning';
const latencies = [];
let published = 0;
let acked = 0;
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const deadline = t0 + Number(seconds) * 1000;

if (mode === 'core') {
  const inbox = `${createInbox()}.`;
  const sentAt = new Map();
  let outstanding = 0;
  let wake = null;
  nc.subscribe(`${inbox}*`, {
    callback: (_err, m) => {
      const token = Number(m.subject.slice(inbox.length));
      const ack = m.json();
      if (ack.error) throw new Error(JSON.stringify(ack.error));
      latencies.push(performance.now() - sentAt.get(token));
      sentAt.delete(token);
      acked++;
      outstanding--;
      if (wake && outstanding < window) {
        const w = wake;
        wake = null;
        w();
      }
    },
  });
  while (performance.now() < deadline) {
    if (outstanding >= window) await new Promise((resolve) => (wake = resolve));
    const h = headers();
    h.set('Nats-Msg-Id', `bare:${published + 1}`);
    const token = ++published;
    sentAt.set(token, performance.now());
    nc.publish(subject, payload, { reply: inbox + token, headers: h });
    outstanding++;
    // Let replies in now and then, as a receiver's event loop would.
    if (published % 256 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  while (outstanding > 0) await new Promise((resolve) => setTimeout(resolve, 1));
} else {
  const js = jetstream(nc);
  const inFlight = new Set();
  while (performance.now() < deadline) {
    const start = performance.now();
    const p = js.publish(subject, payload, { msgID: `js:${++published}` }).then(() => {
      acked++;
      latencies.push(performance.now() - start);
      inFlight.delete(p);
    });
    inFlight.add(p);
    if (inFlight.size >= window) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
}

const elapsedSec = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
latencies.sort((a, b) => a - b);
const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN;
await nc.close();
process.stdout.write(
  `${JSON.stringify({ mode, stream, published, acked, elapsedSec, perSec: acked / elapsedSec, cpuUsPerMsg: (cpu.user + cpu.system) / acked, latencyMs: { p50: pct(0.5), p99: pct(0.99) } })}\n`,
);
