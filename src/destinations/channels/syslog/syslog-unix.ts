// Syslog to a local unix datagram socket (/dev/log), through the addon native/unix_dgram.c.

import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { getSystemErrorMap, getSystemErrorName } from 'node:util';
import { errorText } from '../../../common/errors.js';
import { SendError, type SyslogTransport, type TransportTimeouts } from './syslog-transport.js';

// A datagram on /dev/log: 64 KiB fits the kernel's default socket buffers; rsyslog and journald
// accept it (rsyslog then applies its own $MaxMessageSize, 8 KiB by default).
const UNIX_MAX_MESSAGE_BYTES = 64 * 1024;

/** native/unix_dgram.c: the unix datagram calls Node lacks (why an addon of our own: see there). */
interface UnixDgramAddon {
  /** A non-blocking AF_UNIX SOCK_DGRAM socket: its fd, or -errno. */
  open(minSendBuffer: number): number;
  /** 0 when sent, else errno (EAGAIN when the receiver's queue is full). */
  sendTo(fd: number, data: Buffer, path: string): number;
  close(fd: number): void;
}

let addon: UnixDgramAddon | Error | null = null;

/** Loads the addon built at install; an Error saying why when it is not there. */
function unixDgramAddon(): UnixDgramAddon | Error {
  if (addon === null) {
    const file = fileURLToPath(new URL('../../../../../native/build/Release/unix_dgram.node', import.meta.url));
    try {
      addon = createRequire(import.meta.url)(file) as UnixDgramAddon;
    } catch (err) {
      const why =
        (err as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND'
          ? `${file} is missing: native/unix_dgram.c is built at install and needs a C compiler`
          : `${file} does not load: ${errorText(err).split('\n')[0]}`;
      addon = new Error(`unix datagram sockets are unavailable: ${why}; use udp:// or tcp://`);
    }
  }
  return addon;
}

/** "ENOENT (no such file or directory)" for an errno. */
function describeErrno(errno: number): string {
  const name = getSystemErrorName(-errno);
  const message = getSystemErrorMap().get(-errno)?.[1];
  return message ? `${name} (${message})` : name;
}

const QUEUE_FULL = new Set(['EAGAIN', 'EWOULDBLOCK', 'ENOBUFS']);

/** A unix datagram socket (SOCK_DGRAM), unconnected, so a restarted receiver is found again by path. */
export class UnixDatagramTransport implements SyslogTransport {
  readonly maxMessageBytes = UNIX_MAX_MESSAGE_BYTES;
  private fd = -1;

  constructor(
    private readonly path: string,
    private readonly timeouts: TransportTimeouts,
  ) {}

  private open(): { native: UnixDgramAddon; fd: number } {
    const native = unixDgramAddon();
    if (native instanceof Error) throw new SendError(native.message, 'peer');
    if (this.fd < 0) {
      const fd = native.open(2 * UNIX_MAX_MESSAGE_BYTES);
      if (fd < 0) throw new SendError(`cannot open a unix datagram socket: ${describeErrno(-fd)}`, 'peer');
      this.fd = fd;
    }
    return { native, fd: this.fd };
  }

  async send(data: Buffer): Promise<void> {
    const { native, fd } = this.open();
    // A full receiver queue: wait for room, a little longer each time, up to the stall timeout.
    let waited = 0;
    for (let pause = 1; ; pause = Math.min(pause * 2, 50)) {
      const errno = native.sendTo(fd, data, this.path);
      if (errno === 0) return;
      const name = getSystemErrorName(-errno);
      if (!QUEUE_FULL.has(name)) throw new SendError(describeErrno(errno), name === 'EMSGSIZE' ? 'message' : 'peer');
      if (waited >= this.timeouts.stallTimeoutMs) {
        throw new SendError(`the receiver took no message (its queue is full) within ${this.timeouts.stallTimeoutMs} ms`, 'peer');
      }
      await new Promise((resolve) => setTimeout(resolve, pause));
      waited += pause;
    }
  }

  async close(): Promise<void> {
    const native = unixDgramAddon();
    if (this.fd >= 0 && !(native instanceof Error)) native.close(this.fd);
    this.fd = -1;
  }
}
