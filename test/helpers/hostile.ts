// Pieces of the hostile-peer tests: a receiver CLI child process and its stats, a healthy
// producer that keeps emitting beside an attack, raw Publish streams and health checks.

import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { createGrpcOutput, type GrpcOutput, type ReceiverStats } from '../../dist/src/index.js';
import { PublishAck, PublishRequest } from '../../dist/src/gen/falco/transmit/v1/transmit.js';
import { response } from '../../dist/src/gen/falco/outputs/outputs.js';
import { clientTls, writePki } from './pki.js';
import { emitRange, parseExact, startReceiverProcess, waitFor, type ReceiverProcess } from './harness.js';

export interface ChildReceiver extends ReceiverProcess {
  /** The mTLS address (first listener). */
  addr: string;
  pkiDir: string;
  stats(): Promise<ReceiverStats>;
  alive(): boolean;
  stop(): Promise<void>;
}

/** `receive --control-stdin` on loopback mTLS with certificates made for the test, plus `args`. */
export async function childReceiver(args: string[], pkiDir = writePki()): Promise<ChildReceiver> {
  const tls = ['--tls-cert', join(pkiDir, 'server.crt'), '--tls-key', join(pkiDir, 'server.key'), '--tls-ca', join(pkiDir, 'ca.crt')];
  const proc = await startReceiverProcess(['--control-stdin', ...tls, ...args]);
  let asked = 0;
  return {
    ...proc,
    addr: proc.addresses[0]!,
    pkiDir,
    alive: () => proc.child.exitCode === null && proc.child.signalCode === null,
    async stats() {
      const n = ++asked;
      proc.child.stdin!.write('stats\n');
      await waitFor('receiver stats', () => [...proc.stderr().matchAll(/^stats /gm)].length >= n, 20_000);
      const lines = [...proc.stderr().matchAll(/^stats (.*)$/gm)];
      return JSON.parse(lines[n - 1]![1]!) as ReceiverStats;
    },
    async stop() {
      if (proc.child.exitCode !== null || proc.child.signalCode !== null) return;
      proc.child.kill('SIGTERM');
      await proc.exited;
    },
  };
}

/** A well-behaved transmitter emitting `from..to-1` in the background; `done` resolves once all are acked. */
export function healthyProducer(target: string, from: number, to: number, tls: boolean = !target.startsWith('unix:')) {
  const output: GrpcOutput = createGrpcOutput({ target, tls: tls ? clientTls() : undefined, reconnectInitialMs: 50, reconnectMaxMs: 500, log: () => {} });
  const done = (async () => {
    await emitRange(output, from, to);
    const result = await output.flush(60_000);
    return { result, stats: output.stats() };
  })();
  return { output, done, close: () => output.close(1000) };
}

/** output_fields.seq of every numbered alert in a Falco JSON lines file, in file order. */
export function seqsInFile(file: string): number[] {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => parseExact(l))
    .filter((a) => a['rule'] === 'Terminal shell in container')
    .map((a) => Number((a['output_fields'] as { seq: number }).seq));
}

export function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

export function mtlsCreds(): grpc.ChannelCredentials {
  const t = clientTls();
  return grpc.credentials.createSsl(Buffer.from(t.ca), Buffer.from(t.key), Buffer.from(t.cert));
}

/** A PublishRequest's bytes with `n` small alerts (rule "hostile", so they are told apart in files). */
export function publishRequest(producerId: string, firstSeq: bigint, n: number, pad = 0): Buffer {
  const alerts = Array.from({ length: n }, (_, i) => response.fromPartial({ rule: 'hostile', output: `#${i}${'x'.repeat(pad)}`, priority: 4 }));
  return Buffer.from(PublishRequest.encode({ producerId, firstSeq, alerts }).finish());
}

export interface RawStream {
  call: grpc.ClientDuplexStream<Buffer, Buffer>;
  acks: bigint[];
  /** Resolves with the stream's final status. */
  status: Promise<grpc.StatusObject>;
  close(): void;
}

/** A raw Publish stream; acks are recorded unless `readAcks` is false (then none is ever read). */
export function rawStream(target: string, creds: grpc.ChannelCredentials, readAcks = true): RawStream {
  const client = new grpc.Client(target, creds);
  const call = client.makeBidiStreamRequest('/falco.transmit.v1.Transmitter/Publish', (b: Buffer) => b, (b: Buffer) => b);
  const acks: bigint[] = [];
  if (readAcks) call.on('data', (b: Buffer) => acks.push(PublishAck.decode(b).ackedThrough));
  call.on('error', () => {});
  const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
  return {
    call,
    acks,
    status,
    close: () => {
      call.cancel();
      client.close();
    },
  };
}

/** The health service's answer for `service` ('' = the server): SERVING, NOT_SERVING, ... */
export function healthOf(target: string, creds: grpc.ChannelCredentials, service = ''): Promise<string> {
  const client = new grpc.Client(target, creds);
  const name = Buffer.from(service);
  const request = name.length > 0 ? Buffer.concat([Buffer.from([0x0a, name.length]), name]) : Buffer.alloc(0);
  return new Promise((resolve, reject) =>
    client.makeUnaryRequest('/grpc.health.v1.Health/Check', (b: Buffer) => b, (b: Buffer) => b, request, (err, res) => {
      client.close();
      if (err) reject(err);
      else resolve(['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'][res!.length >= 2 ? res![1]! : 0]!);
    }),
  );
}

/**
 * A Publish stream from a peer that never reads what the receiver sends: plain node:http2 over
 * mTLS, its response stream paused, so its HTTP/2 window closes after 64 KiB of acks (a grpc-js
 * client would keep reading them into its own memory). Writes `requests` as gRPC frames.
 */
export function unreadingPublish(addr: string, requests: Buffer[]): { close(): void } {
  const t = clientTls();
  const session = http2.connect(`https://${addr}`, { ca: t.ca, cert: t.cert, key: t.key });
  session.on('error', () => {});
  const req = session.request({ ':method': 'POST', ':path': '/falco.transmit.v1.Transmitter/Publish', 'content-type': 'application/grpc', te: 'trailers' });
  req.on('error', () => {});
  req.pause();
  const frames = requests.map((r) => {
    const f = Buffer.allocUnsafe(5 + r.length);
    f[0] = 0;
    f.writeUInt32BE(r.length, 1);
    r.copy(f, 5);
    return f;
  });
  req.write(Buffer.concat(frames));
  return { close: () => session.destroy() };
}
