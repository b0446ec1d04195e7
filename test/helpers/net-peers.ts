// Real peers for the network channels' tests: syslog receivers over UDP, TCP (RFC 6587 octet
// counting) and a unix datagram socket (a python3 child process, an implementation of its own),
// and an HTTP(S) server that records what it receives.

import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';

/** Messages gathered by a peer, with a way to wait for a number of them. */
export class Inbox<T> {
  readonly items: T[] = [];
  private waiters: Array<{ count: number; resolve: () => void }> = [];

  push(item: T): void {
    this.items.push(item);
    this.waiters = this.waiters.filter((w) => (this.items.length >= w.count ? (w.resolve(), false) : true));
  }

  /** Resolves once `count` items have arrived. */
  waitFor(count: number): Promise<T[]> {
    if (this.items.length >= count) return Promise.resolve(this.items);
    return new Promise((resolve) => this.waiters.push({ count, resolve: () => resolve(this.items) }));
  }
}

export interface UdpPeer {
  port: number;
  inbox: Inbox<Buffer>;
  close(): Promise<void>;
}

export async function udpPeer(): Promise<UdpPeer> {
  const socket = dgram.createSocket('udp4');
  const inbox = new Inbox<Buffer>();
  socket.on('message', (msg) => inbox.push(msg));
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { port: socket.address().port, inbox, close: () => new Promise((resolve) => socket.close(() => resolve())) };
}

/** A port on which nothing listens (bound, then released). */
export async function unusedPort(kind: 'udp' | 'tcp'): Promise<number> {
  if (kind === 'udp') {
    const peer = await udpPeer();
    await peer.close();
    return peer.port;
  }
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Splits an RFC 6587 octet-counted stream ("LEN SP MSG" ...); the rest is an incomplete frame. */
export function octetFrames(stream: Buffer): { frames: Buffer[]; rest: Buffer } {
  const frames: Buffer[] = [];
  let at = 0;
  for (;;) {
    const space = stream.indexOf(0x20, at);
    if (space < 0) break;
    const lengthText = stream.subarray(at, space).toString('latin1');
    if (!/^[1-9][0-9]*$/.test(lengthText)) throw new Error(`bad octet count "${lengthText}" at byte ${at}`);
    const end = space + 1 + Number(lengthText);
    if (end > stream.length) break;
    frames.push(stream.subarray(space + 1, end));
    at = end;
  }
  return { frames, rest: stream.subarray(at) };
}

export interface TcpPeer {
  port: number;
  inbox: Inbox<Buffer>;
  connections: net.Socket[];
  /** Ends every open connection from the server side and waits until they are closed. */
  dropConnections(): Promise<void>;
  close(): Promise<void>;
}

/** `read: false` accepts connections but never reads them, as a stalled receiver. */
export async function tcpPeer(options: { read?: boolean; port?: number } = {}): Promise<TcpPeer> {
  const inbox = new Inbox<Buffer>();
  const connections: net.Socket[] = [];
  const server = net.createServer((socket) => {
    connections.push(socket);
    socket.on('error', () => undefined);
    if (options.read === false) {
      socket.pause();
      return;
    }
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      const { frames, rest } = octetFrames(Buffer.concat([pending, chunk]));
      pending = Buffer.from(rest);
      for (const frame of frames) inbox.push(Buffer.from(frame));
    });
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const dropConnections = async (): Promise<void> => {
    await Promise.all(
      connections.filter((s) => !s.closed).map((s) => new Promise((resolve) => (s.once('close', resolve), s.destroy()))),
    );
  };
  return {
    port: (server.address() as AddressInfo).port,
    inbox,
    connections,
    dropConnections,
    close: async () => {
      await dropConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

// The unix datagram receiver: python3's own AF_UNIX SOCK_DGRAM socket, one base64 line per datagram.
// With "stall" it binds and never reads, so the socket's queue fills.
const UNIX_DGRAM_RECEIVER = `
import base64, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("ready", flush=True)
if sys.argv[2] == "stall":
    sys.stdin.read()
    sys.exit(0)
while True:
    data = s.recv(1 << 20)
    print(base64.b64encode(data).decode(), flush=True)
`;

export interface UnixDgramPeer {
  inbox: Inbox<Buffer>;
  close(): Promise<void>;
}

export async function unixDgramPeer(path: string, mode: 'read' | 'stall' = 'read'): Promise<UnixDgramPeer> {
  const child = spawn('python3', ['-c', UNIX_DGRAM_RECEIVER, path, mode], { stdio: ['pipe', 'pipe', 'inherit'] });
  const inbox = new Inbox<Buffer>();
  const lines = createInterface({ input: child.stdout });
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`python3 unix datagram receiver exited with ${code}`)));
    lines.once('line', (line) => (line === 'ready' ? resolve() : reject(new Error(`unexpected "${line}"`))));
  });
  lines.on('line', (line) => inbox.push(Buffer.from(line, 'base64')));
  return {
    inbox,
    close: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill();
      await exited;
    },
  };
}

export interface ReceivedRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** What the test server does with a request: answer it (status, headers) or leave it hanging (null). */
export type Responder = (request: ReceivedRequest, index: number) => { status: number; headers?: Record<string, string>; body?: string } | null | Promise<{ status: number; headers?: Record<string, string>; body?: string } | null>;

export interface HttpPeer {
  url: string;
  requests: Inbox<ReceivedRequest>;
  /** The most requests that were in flight (received, not yet answered) at once. */
  maxInFlight: number;
  close(): Promise<void>;
}

export async function httpPeer(respond: Responder, tls?: https.ServerOptions): Promise<HttpPeer> {
  const requests = new Inbox<ReceivedRequest>();
  let inFlight = 0;
  const peer: HttpPeer = { url: '', requests, maxInFlight: 0, close: async () => undefined };
  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const received = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString() };
      inFlight++;
      peer.maxInFlight = Math.max(peer.maxInFlight, inFlight);
      const index = requests.items.length;
      requests.push(received);
      const answer = await respond(received, index);
      if (answer === null) return; // hangs: counted in flight for good
      inFlight--;
      res.writeHead(answer.status, answer.headers);
      res.end(answer.body ?? '');
    });
  };
  const server = tls ? https.createServer(tls, handler) : http.createServer(handler);
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  peer.url = `${tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}/alerts`;
  peer.close = async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  };
  return peer;
}
