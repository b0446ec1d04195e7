// One run of the classic outputs benchmark: one peer, one scenario, in a process of its own (so
// CPU and RSS are that peer's alone). The flood loop is the gRPC benchmark's (runFlood); the
// destinations are child processes that count what they got.
//
// Usage: node bench/outputs-peer.mjs <peer> '<scenario JSON>'  → prints the report JSON.

import { setTimeout as sleep } from 'node:timers/promises';
import { runFlood } from '../dist/src/flood/flood.js';
import { progressWithoutAcks } from '../dist/src/flood/target.js';
import { startDestinations } from './destinations.mjs';
import { createNaivePeer } from './peers/outputs-naive.mjs';
import { createOursPeer } from './peers/outputs-ours.mjs';
import { createPinoPeer } from './peers/outputs-pino.mjs';

/**
 * What each peer provides, around its own API.
 * @typedef {object} OutputsPeer
 * @property {(alert: import('../dist/src/codec/alert.js').AlertInput) => boolean} emit
 * @property {(timeoutMs: number) => Promise<boolean>} flush the peer's own flush: true when it says it is done
 * @property {() => { file: number, http: number, grpc: number }} drops alerts the peer dropped and counted, by destination
 * @property {() => Promise<void>} close
 */

const PEERS = {
  'falco-grpc-output': createOursPeer,
  // For a user who would rather wait than lose a line: emit() blocks while the ring is full.
  'falco-grpc-output, onFull block': (dest) => createOursPeer(dest, { onFull: 'block' }),
  'pino transport': createPinoPeer,
  'naive main thread': createNaivePeer,
};
const KINDS = ['file', 'http', 'grpc'];
/** How often the flood loop may ask a peer for its drop counts (it asks after every tick). */
const PROGRESS_EVERY_MS = 100;

/**
 * @param {keyof typeof PEERS} peerName
 * @param {{ scenario: string, rate: number | 'max', durationSec?: number, count?: number,
 *   destinations: { file: boolean, http: boolean, grpc: boolean }, httpStallSec?: number, flushTimeoutMs: number }} scenario
 */
async function runOnce(peerName, scenario) {
  const dest = await startDestinations(scenario.destinations);
  const peer = PEERS[peerName](dest);
  const kinds = KINDS.filter((k) => scenario.destinations[k]);
  let emitted = 0;

  // The HTTP server's stall, mid-run, on the flood's own clock (seconds since the first emit).
  const stallFrom = scenario.httpStallSec ? (scenario.durationSec - scenario.httpStallSec) / 2 : Infinity;
  let stall = 'before';
  const resume = () => {
    if (stall === 'stalled') dest.resume();
    stall = 'over';
  };
  const onSample = ({ tSec }) => {
    if (stall === 'before' && tSec >= stallFrom) {
      dest.stall();
      stall = 'stalled';
    } else if (stall === 'stalled' && tSec >= stallFrom + scenario.httpStallSec) resume();
  };

  let progress = null;
  let progressAt = -Infinity;
  const dropped = (d) => kinds.reduce((n, k) => n + d[k], 0);

  /** Polls the destinations until each has every alert the peer did not count as dropped, or the deadline. */
  async function settle(deadline) {
    for (;;) {
      const [counts, drops] = [await dest.counts(), peer.drops()];
      const done = kinds.every((k) => counts[k] >= emitted - drops[k]);
      if (done || Date.now() >= deadline) return { counts, drops, done };
      await sleep(50);
    }
  }

  let atFlush = null;
  /** @type {import('../dist/src/flood/target.js').FloodTarget} */
  const target = {
    emit(alert) {
      emitted++;
      return peer.emit(alert);
    },
    // Delivery is counted at the destinations, not here: no acks, no delivery latency.
    progress() {
      const now = performance.now();
      if (now - progressAt >= PROGRESS_EVERY_MS) {
        progressAt = now;
        progress = progressWithoutAcks(dropped(peer.drops()));
      }
      return progress;
    },
    // The flood's CPU window ends here: what a main-thread peer still owes is done and counted.
    async flush(timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      resume();
      const own = await peer.flush(timeoutMs);
      atFlush = await settle(deadline);
      return own && atFlush.done;
    },
    close: () => peer.close(),
  };

  const report = await runFlood({
    ...scenario,
    mix: 'fixed',
    peer: peerName,
    connection: { target: 'unused: the peer has its own destinations' },
    targetFactory: () => target,
    onSample,
  });
  const final = await dest.counts();
  await dest.close();

  const destinations = {};
  for (const k of kinds) {
    destinations[k] = {
      delivered: atFlush.counts[k],
      dropped: atFlush.drops[k],
      // Neither delivered (even after close) nor counted as dropped by the peer.
      lost: Math.max(0, report.emitted - atFlush.drops[k] - final[k]),
    };
  }
  const slowest = Math.min(...kinds.map((k) => atFlush.counts[k]));
  return {
    ...report,
    acked: slowest,
    throughputPerSec: slowest / report.durationSec,
    destinations,
    fileBytesPerLine: final.fileBytes && final.file ? final.fileBytes / final.file : null,
    rssStartMB: report.series.rssMB[0] ?? report.rssMaxMB,
  };
}

const [peerName, json] = process.argv.slice(2);
if (!PEERS[peerName]) {
  process.stderr.write(`unknown peer "${peerName}"; one of: ${Object.keys(PEERS).join(', ')}\n`);
  process.exit(2);
}
process.stdout.write(`${JSON.stringify(await runOnce(peerName, JSON.parse(json)))}\n`);
// A peer without backpressure may leave timers or sockets behind; the report is out.
process.exit(0);
