// What a syslog transport is (unix datagram, UDP, TCP: see syslog-unix.ts and syslog-net.ts), and
// the address that picks one. A transport sends one buffer at a time and says, by rejecting, what
// went wrong; the channel retries.

export type SyslogAddress =
  | { kind: 'unix'; path: string; text: string }
  | { kind: 'udp' | 'tcp'; host: string; port: number; text: string };

export const DEFAULT_SYSLOG_ADDRESS = 'unix:///dev/log';
const DEFAULT_PORT = 514;

/** `unix:///dev/log`, `udp://host:514` or `tcp://[::1]:514` (port 514 when left out); throws saying what is wrong. */
export function parseSyslogAddress(address: string): SyslogAddress {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    throw new Error(`syslog address "${address}" is not a URL; use unix:///dev/log, udp://host:514 or tcp://host:514`);
  }
  const kind = url.protocol.slice(0, -1);
  if (kind === 'unix') {
    if (url.host !== '' || url.pathname === '' || url.pathname === '/') {
      throw new Error(`syslog address "${address}" needs an absolute socket path, as in unix:///dev/log`);
    }
    return { kind, path: decodeURIComponent(url.pathname), text: address };
  }
  if (kind === 'udp' || kind === 'tcp') {
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1'); // IPv6 literals come bracketed
    if (host === '' || url.pathname !== '' || url.search !== '') {
      throw new Error(`syslog address "${address}" must be ${kind}://host:port and nothing more`);
    }
    return { kind, host, port: url.port === '' ? DEFAULT_PORT : Number(url.port), text: address };
  }
  throw new Error(`syslog address "${address}" has an unknown scheme "${url.protocol}"; use unix://, udp:// or tcp://`);
}

/** A failed send. `scope` says whether only this message is at fault ('message') or the peer ('peer'). */
export class SendError extends Error {
  constructor(
    message: string,
    readonly scope: 'message' | 'peer',
  ) {
    super(message);
  }
}

export interface SyslogTransport {
  /** Largest message carried whole (a datagram's limit), or null for a stream that carries any size. */
  readonly maxMessageBytes: number | null;
  /** Sends one datagram, or a run of framed messages on a stream. Rejects with a SendError. */
  send(data: Buffer): Promise<void>;
  /** Releases the socket; idempotent. */
  close(): Promise<void>;
}

export interface TransportTimeouts {
  /** A TCP connect that has not completed by then fails. */
  connectTimeoutMs: number;
  /** A send the receiver has not taken by then (its queue full, its window shut) fails, and the socket is reset. */
  stallTimeoutMs: number;
}

/** Rejects with a 'peer' SendError when `work` has not settled within `ms`, after calling `onStall`. */
export function withStallTimeout<T>(work: (resolve: (v: T) => void, reject: (e: Error) => void) => void, ms: number, what: string, onStall: () => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      onStall();
      reject(new SendError(`${what} within ${ms} ms`, 'peer'));
    }, ms);
    work(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
