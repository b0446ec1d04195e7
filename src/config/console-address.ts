// Where the web console may listen, checked with the rest of receive's settings before anything
// listens: loopback by default; any other address only with TLS and a token or client
// certificates, because the console shows every alert's output to whoever reaches it.

import { isIP } from 'node:net';

export interface ConsoleAddress {
  host: string;
  port: number;
  /** 127.0.0.0/8, ::1 or localhost: only this machine can connect. */
  loopback: boolean;
}

/** `PORT` (loopback), `HOST:PORT` or `[v6]:PORT`; throws a TypeError saying what was expected. */
export function parseConsoleAddress(value: string): ConsoleAddress {
  const m = /^(?:(?:\[([^\]]+)\]|([^:[\]\s]+)):)?(\d{1,5})$/.exec(value.trim());
  const port = m ? Number(m[3]) : NaN;
  const host = m ? (m[1] ?? m[2] ?? '127.0.0.1') : '';
  if (!m || port > 65535 || (m[1] !== undefined && isIP(host) !== 6)) {
    throw new TypeError(`expected PORT, HOST:PORT or [IPv6]:PORT (e.g. 8080 or 127.0.0.1:8080), got ${JSON.stringify(value)}`);
  }
  return { host, port, loopback: isLoopbackHost(host) };
}

export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || h === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(h);
  return false;
}

export interface ConsoleProtection {
  /** The receiver's certificate, key and CA are available. */
  tls: boolean;
  token: boolean;
  /** Browsers must present a certificate that chains to the receiver's CA. */
  clientCerts: boolean;
}

/**
 * Why the console may not be served this way, or null. `where` names the setting for the message
 * (e.g. "--ui-listen 0.0.0.0:8443").
 */
export function consoleAccessProblem(address: ConsoleAddress, p: ConsoleProtection, where: string): string | null {
  if (p.clientCerts && !p.tls) {
    return `${where}: client certificates need the receiver's TLS files (--tls-ca/--tls-cert/--tls-key): the CA checks them`;
  }
  if (address.loopback) return null;
  const missing = [...(p.tls ? [] : ["TLS (the receiver's --tls-cert/--tls-key/--tls-ca)"]), ...(p.token || p.clientCerts ? [] : ['a token (--ui-token-file) or client certificates (--ui-client-certs)'])];
  if (missing.length === 0) return null;
  return (
    `${where}: ${address.host} is not a loopback address, and a console there would show every alert to anyone who reaches it; ` +
    `refusing to serve it without ${missing.join(' and ')}. Bind it to 127.0.0.1 (and use an SSH tunnel) or add what is missing`
  );
}

/** A console address from a flag, the environment or a config file (a bare port may be a YAML number). */
export function checkConsoleListen(value: unknown): string {
  const text = typeof value === 'number' && Number.isInteger(value) ? String(value) : value;
  if (typeof text !== 'string') throw new TypeError(`expected PORT or HOST:PORT, got ${value === null ? 'nothing' : typeof value}`);
  parseConsoleAddress(text);
  return text.trim();
}
