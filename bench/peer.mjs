// One flood with one peer, in a process of its own (so CPU and RSS are that peer's alone).
// Usage: node bench/peer.mjs <peer> '<flood options JSON>'  → prints the FloodReport JSON.

import { runFlood, grpcOutputTarget } from '../dist/src/flood/flood.js';
import { createNaiveGrpcTarget } from './peers/naive-grpc.mjs';
import { createPinoTarget } from './peers/pino-transport.mjs';

const PEERS = {
  'falco-grpc-output': () => grpcOutputTarget(),
  'grpc-js main thread': () => createNaiveGrpcTarget,
  'pino transport': () => createPinoTarget,
};

const [peer, optionsJson] = process.argv.slice(2);
if (!PEERS[peer]) {
  process.stderr.write(`unknown peer "${peer}"; one of: ${Object.keys(PEERS).join(', ')}\n`);
  process.exit(2);
}
const options = JSON.parse(optionsJson);
const report = await runFlood({ ...options, peer, targetFactory: PEERS[peer]() });
process.stdout.write(`${JSON.stringify(report)}\n`);
// A peer without backpressure may leave timers or sockets behind; the report is out.
process.exit(0);
