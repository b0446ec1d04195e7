// A subscriber of the receiver's falco.outputs.service/sub, in a process of its own, as a Falco
// client would open it (grpc-js, default options). It counts the alerts it receives without
// decoding them: the bench measures how fast the receiver hands alerts out, not a client's decoder.
// Prints {"received":N} on every line "count" it reads on stdin.
//
// Usage: node bench/subscriber-peer.mjs unix:///path/to/receiver.sock

import * as grpc from '@grpc/grpc-js';
import { createInterface } from 'node:readline';

const client = new grpc.Client(process.argv[2], grpc.credentials.createInsecure());
const call = client.makeBidiStreamRequest('/falco.outputs.service/sub', (b) => b, (b) => b);
let received = 0;
call.on('metadata', () => process.stdout.write(`${JSON.stringify({ subscribed: true })}\n`));
call.on('data', () => received++);
call.on('error', (err) => process.stderr.write(`subscriber: ${err.message}\n`));
call.write(Buffer.alloc(0)); // request {}: subscribe
for await (const line of createInterface({ input: process.stdin })) {
  if (line === 'count') process.stdout.write(`${JSON.stringify({ received })}\n`);
}
call.cancel();
client.close();
