// Pieces of the hostile-peer tests: a receiver CLI child process and its stats, a healthy
// producer that keeps emitting beside an attack, raw Publish streams and health checks.

import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { createGrpcOutput, type GrpcOutput, type ReceiverStats } from '../../dist/src/index.js';
import { PublishAck, PublishRequest } from '../../dist/src/gen/falco/transmit/v1/transmit.js';
import { response } from '../../dist/src/gen/falco/outputs/outputs.js';
import { clientTls, writePki } from './pki.js';
import { CLI, emitRange, parseExact, waitFor } from './harness.js';

export interface ChildReceiver {
  child: ChildProcess;
  /** Addresses it printed as listening (ports resolved). */
  addresses: string[];
  /** The first listener's address. */
  addr: string;
  pkiDir: string;
  stderr(): string;
  exited: Promise<number | null>;
  stats(): Promise<ReceiverStats>;
  /** process.memoryUsage() after a full GC (the child runs with --expose-gc). */
  memory(): Promise<NodeJS.MemoryUsage>;
  alive(): boolean;
  stop(): Promise<void>;
}

/**
 * `receive --control-stdin` with certificates made for the test, plus `args` (give --listen);
 * `prefix` runs it under another command (prlimit). Resolves once it listens.
 */
export async function childReceiver(args: string[], opts: { pkiDir?: string; prefix?: string[] } = {}): Promise<ChildReceiver> {
  const pkiDir = opts.pkiDir ?? writePki();
  const tls = ['--tls-cert', join(pkiDir, 'server.crt'), '--tls-key', join(pkiDir, 'server.key'), '--tls-ca', join(pkiDir, 'ca.crt')];
  const argv = ['--expose-gc', CLI, 'receive', '--control-stdin', ...tls, ...args];
  const [command, ...rest] = opts.prefix ? [...opts.prefix, process.execPath, ...argv] : [process.execPath, ...argv];
  const child = spawn(command!, rest, { stdio: ['pipe', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const listening = /^falco-grpc-output receive: listening on /m;
  await waitFor(() => `receiver to listen (stderr: ${err})`, () => listening.test(err) || child.exitCode !== null, 20_000);
  if (child.exitCode !== null) throw new Error(`receiver exited: ${err}`);
  const addresses = [...err.matchAll(/receive: listening on (\S+)/g)].map((m) => m[1]!);
  const ask = async <T>(line: string): Promise<T> => {
    const pattern = new RegExp(`^${line} (.*)$`, 'gm');
    const before = [...err.matchAll(pattern)].length;
    child.stdin!.write(`${line}\n`);
    await waitFor(`receiver ${line}`, () => [...err.matchAll(pattern)].length > before, 20_000);
    return JSON.parse([...err.matchAll(pattern)][before]![1]!) as T;
  };
  const alive = (): boolean => child.exitCode === null && child.signalCode === null;
  return {
    child,
    addresses,
    addr: addresses[0]!,
    pkiDir,
    stderr: () => err,
    exited,
    alive,
    stats: () => ask<ReceiverStats>('stats'),
    memory: () => ask<NodeJS.MemoryUsage>('memory'),
    async stop() {
      if (!alive()) return;
      child.kill('SIGTERM');
      await exited;
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
  req.write(Buffer.concat(requests.map(grpcFrame)));
  return { close: () => session.destroy() };
}

/** `message` as one gRPC length-prefixed message: flag 0 (not compressed), a 4-byte length, the bytes. */
export function grpcFrame(message: Buffer): Buffer {
  const frame = Buffer.allocUnsafe(5 + message.length);
  frame[0] = 0;
  frame.writeUInt32BE(message.length, 1);
  message.copy(frame, 5);
  return frame;
}

/** `n` connections opened by `open`; resolves once each is `ready` (the event) or closed. */
async function holdConnections<T extends net.Socket>(n: number, open: () => T, ready: string): Promise<{ closed: () => number; close(): void }> {
  const sockets: T[] = [];
  let closed = 0;
  await Promise.all(
    Array.from({ length: n }, () =>
      new Promise<void>((resolve) => {
        const s = open();
        sockets.push(s);
        s.on('error', () => {});
        s.once(ready, () => resolve());
        s.once('close', () => {
          closed++;
          resolve();
        });
      }),
    ),
  );
  return { closed: () => closed, close: () => sockets.forEach((s) => s.destroy()) };
}

/** `n` TCP connections from `localAddress` that never send a byte. */
export function silentConnections(addr: string, n: number, localAddress: string): Promise<{ closed: () => number; close(): void }> {
  const [host, port] = splitHostPort(addr);
  return holdConnections(n, () => net.connect({ host: host === 'localhost' ? '127.0.0.1' : host, port, localAddress }), 'connect');
}

/** `n` connections that complete mTLS with a good certificate and then say nothing. */
export function silentTlsConnections(addr: string, n: number): Promise<{ closed: () => number; close(): void }> {
  const [host, port] = splitHostPort(addr);
  const t = clientTls();
  const open = (): tls.TLSSocket =>
    tls.connect({ host: host === 'localhost' ? '127.0.0.1' : host, port, servername: 'localhost', ca: t.ca, cert: t.cert, key: t.key, ALPNProtocols: ['h2'] });
  return holdConnections(n, open, 'secureConnect');
}

/** `streams` sub calls over node:http2 sessions that never read (their windows close), `perSession` to a session. */
export function stalledSubscribers(addr: string, streams: number, perSession = 50): { statuses: () => number[]; close(): void } {
  const t = clientTls();
  const sessions: http2.ClientHttp2Session[] = [];
  const statuses: number[] = [];
  for (let i = 0; i < streams; i++) {
    if (i % perSession === 0) {
      const session = http2.connect(`https://${addr}`, { ca: t.ca, cert: t.cert, key: t.key });
      session.on('error', () => {});
      sessions.push(session);
    }
    const req = sessions.at(-1)!.request({ ':method': 'POST', ':path': '/falco.outputs.service/sub', 'content-type': 'application/grpc', te: 'trailers' });
    req.on('error', () => {});
    req.on('response', (headers) => {
      // A refusal comes as trailers-only: grpc-status in the response headers.
      if (headers['grpc-status'] !== undefined) statuses.push(Number(headers['grpc-status']));
    });
    req.pause();
    req.write(Buffer.from([0, 0, 0, 0, 0])); // one empty request, as Falco's clients open
  }
  return { statuses: () => statuses, close: () => sessions.forEach((s) => s.destroy()) };
}

function splitHostPort(addr: string): [string, number] {
  const m = /^(.*):(\d+)$/.exec(addr)!;
  return [m[1]!.replace(/^\[(.*)\]$/, '$1'), Number(m[2])];
}

/** Open-file limits of a process, from /proc. */
export function fdLimitsOf(pid: number): { soft: number; hard: number } {
  const m = /^Max open files\s+(\d+)\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'))!;
  return { soft: Number(m[1]), hard: Number(m[2]) };
}

/** Bytes of a protobuf field of our own choosing (number 99, length-delimited): unknown to every reader. */
export function unknownField(bytes: number): Buffer {
  const len: number[] = [];
  let v = bytes;
  while (v > 0x7f) {
    len.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  len.push(v);
  return Buffer.concat([Buffer.from([0x9a, 0x06, ...len]), Buffer.alloc(bytes, 0x78)]);
}

/** Like waitFor, for a check that has to ask a child process. */
export async function waitForAsync(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
