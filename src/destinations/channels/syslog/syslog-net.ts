// Syslog to a remote receiver over UDP (one message a datagram) or TCP (octet-counted stream).

import dgram from 'node:dgram';
import { lookup } from 'node:dns/promises';
import net from 'node:net';
import { errorText } from '../../../common/errors.js';
import { SendError, withStallTimeout, type SyslogTransport, type TransportTimeouts } from './syslog-transport.js';

// The largest UDP payload over IPv4 (65,535 - 8 UDP - 20 IP header bytes).
const UDP_MAX_MESSAGE_BYTES = 65_507;

/**
 * UDP, connected so that the kernel reports an ICMP port-unreachable from the receiver: it arrives
 * as an 'error' event, after the datagram that caused it was sent.
 */
export class UdpTransport implements SyslogTransport {
  readonly maxMessageBytes = UDP_MAX_MESSAGE_BYTES;
  private socket: dgram.Socket | null = null;
  private peerError: Error | null = null;

  constructor(
    private readonly host: string,
    private readonly port: number,
  ) {}

  private async open(): Promise<dgram.Socket> {
    if (this.socket) return this.socket;
    let resolved: { address: string; family: number };
    try {
      resolved = await lookup(this.host);
    } catch (err) {
      throw new SendError(`cannot resolve ${this.host}: ${errorText(err)}`, 'peer');
    }
    const socket = dgram.createSocket(resolved.family === 6 ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', (err) => reject(new SendError(errorText(err), 'peer')));
      socket.connect(this.port, resolved.address, () => resolve());
    }).catch((err: unknown) => {
      socket.close();
      throw err;
    });
    socket.removeAllListeners('error');
    socket.on('error', (err) => {
      this.peerError = err;
    });
    this.socket = socket;
    return socket;
  }

  async send(data: Buffer): Promise<void> {
    const socket = await this.open();
    this.peerError = null; // an ICMP error about an earlier datagram: that one already counted
    await new Promise<void>((resolve, reject) =>
      socket.send(data, (err) => (err ? reject(new SendError(errorText(err), udpScope(err))) : resolve())),
    );
    // Let the loop poll once: on this host (loopback) an ICMP error for this datagram is already queued.
    await new Promise((resolve) => setImmediate(resolve));
    const refused = this.peerError as NodeJS.ErrnoException | null;
    if (refused) {
      const why = refused.code === 'ECONNREFUSED' ? 'ECONNREFUSED (ICMP port unreachable: nothing listens there)' : errorText(refused);
      throw new SendError(why, 'peer');
    }
  }

  async close(): Promise<void> {
    const socket = this.socket;
    this.socket = null;
    if (socket) await new Promise<void>((resolve) => socket.close(() => resolve()));
  }
}

function udpScope(err: Error): 'message' | 'peer' {
  return (err as NodeJS.ErrnoException).code === 'EMSGSIZE' ? 'message' : 'peer';
}

/** TCP; messages are framed by the channel (RFC 6587 octet counting). One connection, reopened after a failure. */
export class TcpTransport implements SyslogTransport {
  readonly maxMessageBytes = null;
  private socket: net.Socket | null = null;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly timeouts: TransportTimeouts,
  ) {}

  private open(): Promise<net.Socket> {
    if (this.socket && !this.socket.destroyed) return Promise.resolve(this.socket);
    const socket = net.connect({ host: this.host, port: this.port });
    return withStallTimeout<net.Socket>(
      (resolve, reject) => {
        socket.once('error', (err) => reject(new SendError(errorText(err), 'peer')));
        socket.once('connect', () => {
          socket.removeAllListeners('error');
          this.watch(socket);
          resolve(socket);
        });
      },
      this.timeouts.connectTimeoutMs,
      'no connection',
      () => socket.destroy(),
    );
  }

  private watch(socket: net.Socket): void {
    this.socket = socket;
    socket.setKeepAlive(true);
    // A syslog receiver sends nothing; reading keeps 'end' coming when it closes the connection.
    socket.resume();
    socket.on('end', () => socket.destroy());
    socket.on('error', () => socket.destroy()); // the pending write's callback reports it
    socket.on('close', () => {
      if (this.socket === socket) this.socket = null;
    });
  }

  async send(data: Buffer): Promise<void> {
    const socket = await this.open();
    return withStallTimeout<void>(
      (resolve, reject) =>
        socket.write(data, (err) => (err ? reject(new SendError(errorText(err), 'peer')) : resolve())),
      this.timeouts.stallTimeoutMs,
      'the receiver took no data',
      () => socket.destroy(),
    );
  }

  async close(): Promise<void> {
    const socket = this.socket;
    this.socket = null;
    if (!socket) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => socket.destroy(), 1000); // a peer that never reads stops waiting for FIN
      socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.end();
    });
  }
}
