// One phase of the spool's outage benchmark, in a process of its own (bench/spool.mjs runs both):
//   node bench/spool-replay.mjs fill   '{ dir, rate, seconds }'  a receiver outage: alerts into the spool
//   node bench/spool-replay.mjs replay '{ dir }'                   a new process, the receiver back: startup and replay
// Prints one JSON report line.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGrpcOutput } from '../dist/src/index.js';
import { EmbeddedReceiver } from '../dist/src/flood/embedded-receiver.js';
import { referenceAlert } from '../dist/src/synthetic/alerts.js';
import { SpoolStore } from '../dist/src/spool/store.js';
import { SpoolReader } from '../dist/src/spool/reader.js';

const [phase, json] = process.argv.slice(2);
const args = JSON.parse(json);
const MAX_BYTES = 64 * 1024 ** 3;
const mb = (bytes) => bytes / 1e6;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
let rssMaxMB = 0;
const sampler = setInterval(() => (rssMaxMB = Math.max(rssMaxMB, mb(process.memoryUsage.rss()))), 50);

async function opened(output) {
  while (output.stats().spool.state === 'opening') await sleep(1);
}

if (phase === 'fill') {
  const receiver = new EmbeddedReceiver('mtls');
  const connection = await receiver.start({ kind: 'down' });
  const output = createGrpcOutput({ ...connection, reconnectMaxMs: 1000, spool: { dir: args.dir, maxBytes: MAX_BYTES, fsync: args.fsync }, log: () => {} });
  await opened(output);
  const rssStartMB = mb(process.memoryUsage.rss());
  const started = performance.now();
  const end = started + args.seconds * 1000;
  let emitted = 0;
  let now = BigInt(Date.now()) * 1_000_000n;
  // Paced in 1 ms ticks: what is due by now is emitted, then the loop yields.
  while (performance.now() < end) {
    const due = Math.floor(((performance.now() - started) / 1000) * args.rate);
    for (; emitted < due; emitted++) output.emit(referenceAlert(emitted, now++));
    await sleep(1);
  }
  while (output.stats().pendingBytes > 0) await sleep(5);
  const s = output.stats();
  await output.close(0);
  await receiver.close();
  clearInterval(sampler);
  process.stdout.write(`${JSON.stringify({ emitted: s.emitted, dropped: s.dropped, drops: s.drops, spoolAlerts: s.spool.alerts, spoolMB: mb(s.spool.bytes), rssStartMB, rssMaxMB })}\n`);
} else {
  // The spool's own read rate, no network: every record read back and its checksum checked.
  const cfg = { dir: args.dir, maxBytes: MAX_BYTES, segmentBytes: 64 * 1024 * 1024, whenFull: 'drop_newest', fsync: 'never', fsyncIntervalMs: 500, maxRecordBytes: 1024 * 1024 };
  const store = new SpoolStore(cfg, { log: () => {}, dropped: () => {} });
  const { ackedSeq } = store.open();
  const reader = new SpoolReader(store, { lost: () => {}, readError: () => {} });
  reader.seek(ackedSeq + 1);
  let readBytes = 0;
  const t0 = performance.now();
  for (let r = reader.take(); r !== null; r = reader.take()) readBytes += r.length + 32;
  const readAloneMBPerSec = mb(readBytes) / ((performance.now() - t0) / 1000);
  store.close();

  // Startup of an empty spool first, for comparison: the same worker thread, nothing to recover.
  const empty = mkdtempSync(join(tmpdir(), 'fgo-bench-empty-'));
  let t = performance.now();
  const fresh = createGrpcOutput({ target: 'unix:///nonexistent.sock', spool: { dir: empty, maxBytes: MAX_BYTES }, log: () => {} });
  await opened(fresh);
  const emptyStartupMs = performance.now() - t;
  await fresh.close(0);
  rmSync(empty, { recursive: true, force: true });

  const receiver = new EmbeddedReceiver('mtls');
  const connection = await receiver.start({ kind: 'none' });
  const rssBeforeMB = mb(process.memoryUsage.rss());
  t = performance.now();
  const output = createGrpcOutput({ ...connection, spool: { dir: args.dir, maxBytes: MAX_BYTES }, log: () => {} });
  await opened(output);
  const startupMs = performance.now() - t;
  const rssAfterOpenMB = mb(process.memoryUsage.rss());
  const backlog = output.stats();
  const spoolMB = mb(backlog.spool.bytes);
  const flushed = await output.flush(600_000);
  const replaySec = (performance.now() - t) / 1000;
  const s = output.stats();
  await output.close(5000);
  await receiver.close();
  clearInterval(sampler);
  process.stdout.write(
    `${JSON.stringify({
      backlogAlerts: backlog.replayed,
      readAloneMBPerSec,
      spoolMB,
      emptyStartupMs,
      startupMs,
      rssBeforeMB,
      rssAfterOpenMB,
      rssMaxMB,
      flushed: flushed.flushed,
      acked: s.acked,
      dropped: s.dropped,
      replaySec,
      replayMBPerSec: spoolMB / replaySec,
      replayAlertsPerSec: s.acked / replaySec,
    })}\n`,
  );
}
process.exit(0);
