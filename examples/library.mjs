// The README's library example, runnable from a clone: `node examples/library.mjs`.
// Both ends in one script, on a unix socket; the receiver writes Falco JSON lines to stdout.
import { createGrpcOutput, createReceiver } from 'falco-grpc-output';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const socket = `unix://${join(tmpdir(), `falco-alerts-${process.pid}.sock`)}`;
const receiver = createReceiver({ listen: [socket] });
await receiver.start();

const output = createGrpcOutput({ target: socket });
output.emit({
  time: '2025-11-27T05:00:00.000000970Z',
  rule: 'Terminal shell in container',
  priority: 'Notice',
  source: 'syscall',
  hostname: 'worker-node-1',
  output: 'A shell was spawned in a container (user=root)',
  tags: ['container', 'shell'],
  output_fields: { 'proc.name': 'bash', 'evt.time': 1764219600000000970n, 'fd.name': null },
});
const flushed = await output.flush(5000);
console.error('flush:', flushed, 'stats:', output.stats());
await output.close();
await receiver.close();
