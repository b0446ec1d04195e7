// A subscriber of the receiver's falco.outputs.service/sub, in a process of its own. It counts the
// alerts it receives without decoding them: the bench measures how fast the receiver hands alerts
// out, not a client's decoder. Two clients:
//   grpc-js  as a Falco client written for Node.js would open it (grpc-js, default options);
//   http2    node:http2 and a loop over the gRPC length prefixes, nothing per message: what the
//            receiver can hand out when the client's own per-message cost is taken away (a Go or
//            C++ client is closer to this than grpc-js is).
// Prints {"received":N,"cpuUsPerAlert":X} (its own CPU, every thread) on every line "count" it reads on stdin.
//
// Usage: node bench/subscriber-peer.mjs unix:///path/to/receiver.sock [grpc-js|http2]

import * as grpc from '@grpc/grpc-js';
import http2 from 'node:http2';
import { connect } from 'node:net';
import { createInterface } from 'node:readline';

const [target, client = 'grpc-js'] = process.argv.slice(2);
let received = 0;
const subscribed = () => process.stdout.write(`${JSON.stringify({ subscribed: true })}\n`);
const failed = (err) => process.stderr.write(`subscriber: ${err.message}\n`);

function grpcJs() {
  const c = new grpc.Client(target, grpc.credentials.createInsecure());
  const call = c.makeBidiStreamRequest('/falco.outputs.service/sub', (b) => b, (b) => b);
  call.on('metadata', subscribed);
  call.on('data', () => received++);
  call.on('error', failed);
  call.write(Buffer.alloc(0)); // request {}: subscribe
  return () => {
    call.cancel();
    c.close();
  };
}

function rawHttp2() {
  const path = target.replace(/^unix:\/\//, '');
  const window = 4 * 1024 * 1024; // what the receiver gives its own peers
  const session = http2.connect('http://localhost', { createConnection: () => connect(path), settings: { initialWindowSize: window } });
  session.on('connect', () => session.setLocalWindowSize(window));
  session.on('error', failed);
  const stream = session.request({ ':method': 'POST', ':path': '/falco.outputs.service/sub', 'content-type': 'application/grpc', te: 'trailers' });
  stream.on('response', subscribed);
  stream.on('error', failed);
  // gRPC messages: [compressed flag][u32 length][bytes]; count each one whose bytes have all arrived.
  const header = Buffer.alloc(5);
  let headerHave = 0;
  let bodyLeft = 0;
  stream.on('data', (chunk) => {
    for (let i = 0; i < chunk.length; ) {
      if (bodyLeft > 0) {
        const n = Math.min(bodyLeft, chunk.length - i);
        bodyLeft -= n;
        i += n;
        if (bodyLeft === 0) received++;
        continue;
      }
      header[headerHave++] = chunk[i++];
      if (headerHave < 5) continue;
      headerHave = 0;
      bodyLeft = header.readUInt32BE(1);
      if (bodyLeft === 0) received++;
    }
  });
  stream.write(Buffer.from([0, 0, 0, 0, 0])); // request {}: subscribe
  return () => {
    stream.close();
    session.close();
  };
}

const CLIENTS = { 'grpc-js': grpcJs, http2: rawHttp2 };
if (!CLIENTS[client]) {
  process.stderr.write(`unknown client "${client}"; one of: ${Object.keys(CLIENTS).join(', ')}\n`);
  process.exit(2);
}
const close = CLIENTS[client]();
for await (const line of createInterface({ input: process.stdin })) {
  if (line !== 'count') continue;
  const cpu = process.cpuUsage();
  process.stdout.write(`${JSON.stringify({ received, cpuUsPerAlert: (cpu.user + cpu.system) / Math.max(1, received) })}\n`);
}
close();
