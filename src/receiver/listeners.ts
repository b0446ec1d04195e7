// The receiver's own listening sockets. grpc-js binding its ports itself would leave every
// connection unbounded: ~120 s for a TLS handshake, forever for a connection that finishes TLS and
// never speaks HTTP/2, no cap in total or per peer. So the receiver accepts connections itself,
// does TLS itself, and hands grpc-js (through its public connection injector) only connections that
// passed the handshake and opened with HTTP/2's preface. Unauthenticated connections (in their
// handshake, or before their first frame) on one listener may take at most half of the
// connection cap, so a peer without a certificate can never lock out connected producers, nor
// the other listeners (the unix socket), nor exhaust the process's descriptors.

import net from 'node:net';
import tls from 'node:tls';
import { lookup } from 'node:dns/promises';
import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import { errorText } from '../common/errors.js';
import type { LoadedTls } from '../tls/pem.js';
import type { RateLimitedLog } from './rate-limited-log.js';

/** The HTTP/2 client connection preface (RFC 9113 §3.4): the first bytes a client sends. */
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
/**
 * GOAWAY (last stream 0, PROTOCOL_ERROR): HTTP/2's answer to a bad preface (RFC 9113 §3.4). Sent
 * rather than a silent reset so that a TLS client on a plaintext listener reads non-TLS bytes and
 * can say "the receiver does not speak TLS" instead of guessing at a refused certificate.
 */
const GOAWAY_PROTOCOL_ERROR = Buffer.from([0, 0, 8, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);

export interface ConnectionLimits {
  /** Connections open at once, over every listener. */
  maxConnections: number;
  /** Connections open at once from one remote address (TCP). */
  maxConnectionsPerPeer: number;
  /** A TLS handshake must finish within this. */
  handshakeTimeoutMs: number;
  /** After the handshake (at once on a plaintext listener), HTTP/2's preface must arrive within this. */
  firstFrameTimeoutMs: number;
}

export interface ConnectionCounts {
  /** Connections refused for a limit (total, unauthenticated, per peer). */
  refusedConnections: number;
  /** TLS handshakes that failed or timed out (no certificate, another CA, not TLS at all). */
  failedHandshakes: number;
  /** Connections closed for sending no HTTP/2 preface in time, or something else first. */
  notHttp2: number;
}

interface Injector {
  injectConnection(connection: Duplex): void;
}

/** One accepted connection, until it closes. */
interface Connection {
  peer: string;
  where: string;
  address: string | undefined;
  unauthenticated: boolean;
}

export class Listeners {
  private readonly servers: net.Server[] = [];
  private readonly connections = new Map<net.Socket, Connection>();
  private readonly perPeer = new Map<string, number>();
  /** Unauthenticated connections by listener. */
  private readonly unauthenticated = new Map<string, number>();
  private readonly tlsServer: tls.Server | null;
  private closing = false;
  private readonly unixPaths: string[] = [];
  readonly counts: ConnectionCounts = { refusedConnections: 0, failedHandshakes: 0, notHttp2: 0 };

  constructor(
    private readonly limits: ConnectionLimits,
    credentials: LoadedTls | null,
    private readonly injector: Injector,
    private readonly log: RateLimitedLog,
  ) {
    this.tlsServer = credentials ? this.tlsServerFor(credentials) : null;
  }

  get open(): number {
    return this.connections.size;
  }

  private tlsServerFor(credentials: LoadedTls): tls.Server {
    let server: tls.Server;
    try {
      server = tls.createServer({
        key: credentials.key,
        cert: credentials.cert,
        ca: credentials.ca,
        requestCert: true,
        rejectUnauthorized: true,
        ALPNProtocols: ['h2'],
        handshakeTimeout: this.limits.handshakeTimeoutMs,
      });
    } catch (err) {
      throw new Error(`createReceiver: cannot use tls { cert, key, ca }: ${errorText(err)}`);
    }
    server.on('secureConnection', (socket: tls.TLSSocket) => {
      const raw = rawSocketOf(socket);
      const conn = raw ? this.connections.get(raw) : undefined;
      if (!conn) {
        socket.destroy();
        return;
      }
      this.awaitPreface(socket, conn);
    });
    server.on('tlsClientError', (err: Error, socket: tls.TLSSocket) => {
      this.counts.failedHandshakes++;
      const conn = this.connections.get(rawSocketOf(socket) as net.Socket);
      const reason = errorText(err);
      this.log.say(`tls:${reason}`, `falco-grpc-output receive: TLS handshake from ${conn?.peer ?? 'a peer'} on ${conn?.where ?? 'a TCP listener'} refused: ${reason}`);
      socket.destroy();
    });
    return server;
  }

  /** Binds `addr` (host:port, every address the host resolves to, or unix:path); resolves with it, its port resolved. */
  async listen(addr: string, secure: boolean): Promise<string> {
    if (addr.startsWith('unix:')) {
      const path = addr.replace(/^unix:(\/\/)?/, '');
      await claimSocketPath(addr, path);
      await this.bind(addr, { path }, false);
      chmodSync(path, 0o660); // owner and group only: the socket has no TLS
      this.unixPaths.push(path);
      return addr;
    }
    const m = /^(.*):(\d+)$/.exec(addr);
    if (!m) throw new Error(`cannot listen on ${addr}: expected host:port or unix:///path`);
    const host = m[1]!.replace(/^\[(.*)\]$/, '$1');
    let port = Number(m[2]);
    let hosts: string[];
    try {
      hosts = (await lookup(host, { all: true })).map((a) => a.address);
    } catch (err) {
      throw new Error(`cannot listen on ${addr}: ${errorText(err)}`);
    }
    // Every address of the name on one port (localhost: 127.0.0.1 and ::1), as grpc-js binds; one is enough.
    let bound = 0;
    let firstError: unknown = null;
    for (const ip of [...new Set(hosts)]) {
      try {
        port = await this.bind(addr, { host: ip, port }, secure);
        bound++;
      } catch (err) {
        firstError ??= err;
      }
    }
    if (bound === 0) throw firstError;
    return `${m[1]}:${port}`;
  }

  private bind(addr: string, options: net.ListenOptions, secure: boolean): Promise<number> {
    const server = net.createServer({ noDelay: true }, (socket) => this.accept(socket, addr, secure));
    return new Promise((resolve, reject) => {
      server.once('error', (err) => reject(new Error(`cannot listen on ${addr}: ${errorText(err)}`)));
      server.listen({ ...options, exclusive: true }, () => {
        server.removeAllListeners('error');
        server.on('error', (err) => this.log.say('listener', `falco-grpc-output receive: listener ${addr}: ${errorText(err)}`));
        this.servers.push(server);
        const address = server.address();
        resolve(typeof address === 'object' && address ? address.port : 0);
      });
    });
  }

  private accept(socket: net.Socket, where: string, secure: boolean): void {
    socket.on('error', () => {}); // a reset before grpc-js has the socket must not crash the process
    const address = socket.remoteAddress;
    const peer = address ? `${address}:${socket.remotePort}` : where;
    const refuse = (kind: string, why: string): void => {
      this.counts.refusedConnections++;
      this.log.say(kind, `falco-grpc-output receive: refused a connection from ${peer} on ${where}: ${why}`);
      socket.destroy();
    };
    if (this.closing) return refuse('closing', 'the receiver is shutting down');
    const { maxConnections, maxConnectionsPerPeer } = this.limits;
    if (this.connections.size >= maxConnections) {
      return refuse('limit-total', `${this.connections.size} connections are open, the limit (--max-connections ${maxConnections})`);
    }
    const maxUnauthenticated = Math.max(1, Math.floor(maxConnections / 2));
    const unauthenticated = this.unauthenticated.get(where) ?? 0;
    if (unauthenticated >= maxUnauthenticated) {
      return refuse('limit-unauthenticated', `${unauthenticated} connections on it are still in their TLS handshake or before their first HTTP/2 frame (at most half of --max-connections ${maxConnections})`);
    }
    const fromPeer = address ? (this.perPeer.get(address) ?? 0) : 0;
    if (address && fromPeer >= maxConnectionsPerPeer) {
      return refuse('limit-peer', `${fromPeer} connections from ${address} are open, the limit (--max-connections-per-peer ${maxConnectionsPerPeer})`);
    }
    if (address) this.perPeer.set(address, fromPeer + 1);
    const conn: Connection = { peer, where, address, unauthenticated: true };
    this.connections.set(socket, conn);
    this.unauthenticated.set(where, unauthenticated + 1);
    socket.once('close', () => {
      this.authenticated(conn);
      this.connections.delete(socket);
      if (address) {
        const n = (this.perPeer.get(address) ?? 1) - 1;
        if (n > 0) this.perPeer.set(address, n);
        else this.perPeer.delete(address);
      }
    });
    if (secure && this.tlsServer) this.tlsServer.emit('connection', socket);
    else this.awaitPreface(socket, conn);
  }

  private authenticated(conn: Connection): void {
    if (!conn.unauthenticated) return;
    conn.unauthenticated = false;
    this.unauthenticated.set(conn.where, (this.unauthenticated.get(conn.where) ?? 1) - 1);
  }

  /** Reads HTTP/2's preface (within the first-frame timeout), puts it back, and hands the connection to grpc-js. */
  private awaitPreface(socket: net.Socket, conn: Connection): void {
    let got: Buffer = Buffer.alloc(0);
    const close = (kind: string, why: string, answer?: Buffer): void => {
      this.counts.notHttp2++;
      this.log.say(kind, `falco-grpc-output receive: closed a connection from ${conn.peer} on ${conn.where}: ${why}`);
      if (answer) socket.end(answer, () => socket.destroy());
      else socket.destroy();
    };
    const timer = setTimeout(
      () => close('no-preface', `no HTTP/2 preface within ${this.limits.firstFrameTimeoutMs} ms (--first-frame-timeout)`),
      this.limits.firstFrameTimeoutMs,
    );
    timer.unref();
    const onData = (chunk: Buffer): void => {
      got = got.length === 0 ? chunk : Buffer.concat([got, chunk]);
      const n = Math.min(got.length, PREFACE.length);
      if (got.compare(PREFACE, 0, n, 0, n) !== 0) {
        cleanup();
        const tlsHello = got[0] === 0x16; // a TLS handshake record: a TLS client on this plaintext listener
        close('not-http2', tlsHello ? 'it opened with TLS, and this listener is plaintext' : 'it did not open with the HTTP/2 preface (not a gRPC client)', GOAWAY_PROTOCOL_ERROR);
        return;
      }
      if (got.length < PREFACE.length) return;
      cleanup();
      socket.pause();
      socket.unshift(got);
      this.authenticated(conn);
      if (this.closing) socket.destroy();
      else this.injector.injectConnection(socket);
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', cleanup);
    };
    socket.on('data', onData);
    socket.once('close', cleanup);
  }

  /** Stops accepting and closes connections that never got as far as gRPC. */
  stopAccepting(): void {
    this.closing = true;
    for (const server of this.servers) server.close();
    for (const [socket, conn] of this.connections) if (conn.unauthenticated) socket.destroy();
  }

  /**
   * Resolves once every connection has closed by itself, or after `ms`. grpc-js's tryShutdown()
   * calls back before the sessions it closed have flushed their last frames (on Node 24 the final
   * acks and trailers are still in HTTP/2's queue), so destroying at once would lose acks the
   * receiver already wrote and the producer would send those alerts again.
   */
  async settled(ms: number): Promise<void> {
    const open = [...this.connections.keys()].filter((socket) => !socket.destroyed);
    if (open.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(open.map((socket) => new Promise((resolve) => socket.once('close', resolve)))),
      new Promise((resolve) => (timer = setTimeout(resolve, ms))),
    ]);
    clearTimeout(timer);
  }

  /** Destroys what is still open and removes the unix socket files (after grpc-js has shut down). */
  destroy(): void {
    this.stopAccepting();
    for (const socket of this.connections.keys()) socket.destroy();
    for (const path of this.unixPaths) {
      try {
        unlinkSync(path);
      } catch {
        // already gone
      }
    }
  }
}

/** The TCP socket under a server-side TLSSocket (Node keeps it in `_parent`). */
function rawSocketOf(socket: tls.TLSSocket): net.Socket | undefined {
  return (socket as unknown as { _parent?: net.Socket })._parent;
}

/**
 * A unix socket path may be replaced only when nothing answers on it: a live receiver there would
 * keep running unreachable, and delete the path when it exits.
 */
async function claimSocketPath(addr: string, path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return; // absent: nothing to replace
  }
  if (!isSocket) throw new Error(`cannot listen on ${addr}: ${path} exists and is not a socket`);
  const answered = await new Promise<boolean>((resolve) => {
    const probe = net.connect({ path });
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false)); // ECONNREFUSED: a stale file nobody listens on
  });
  if (answered) throw new Error(`cannot listen on ${addr}: another process is listening on it (a receiver already running?)`);
  try {
    unlinkSync(path);
  } catch {
    // gone meanwhile
  }
}
