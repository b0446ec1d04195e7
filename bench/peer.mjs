// One flood with one peer, in a process of its own (so CPU and RSS are that peer's alone).
// Usage: node bench/peer.mjs <peer> '<flood options JSON>'  → prints the FloodReport JSON.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runFlood, grpcOutputTarget } from '../dist/src/flood/flood.js';
import { createNaiveGrpcTarget } from './peers/naive-grpc.mjs';
import { createPinoTarget } from './peers/pino-transport.mjs';

let spoolDir = null;
const PEERS = {
  'falco-grpc-output': () => grpcOutputTarget(),
  'grpc-js main thread': () => createNaiveGrpcTarget,
  'pino transport': () => createPinoTarget,
  // The same transmitter with a spool behind its ring (bench/spool.mjs), in a fresh directory.
  'falco-grpc-output, spool': () => grpcOutputTarget({ spool: { dir: (spoolDir = mkdtempSync(join(tmpdir(), 'fgo-bench-spool-'))), maxBytes: 64 * 1024 ** 3 } }),
};

const [peer, optionsJson] = process.argv.slice(2);
if (!PEERS[peer]) {
  process.stderr.write(`unknown peer "${peer}"; one of: ${Object.keys(PEERS).join(', ')}\n`);
  process.exit(2);
}
const options = JSON.parse(optionsJson);
const report = await runFlood({ ...options, peer, targetFactory: PEERS[peer]() });
process.stdout.write(`${JSON.stringify(report)}\n`);
if (spoolDir) rmSync(spoolDir, { recursive: true, force: true });
// A peer without backpressure may leave timers or sockets behind; the report is out.
process.exit(0);
