// Connecting to NATS the way a NATS user expects: server URLs (nats:// or tls://), a creds file,
// user and password, or a token, and TLS with a CA and optionally a client certificate.

import { readFileSync } from 'node:fs';
import { connect, credsAuthenticator, errors, type NatsConnection, type NodeConnectionOptions } from '@nats-io/transport-node';
import { loadPem } from '../tls/pem.js';

export interface BusConnectOptions {
  /** Server URLs: nats://host:4222, tls://host:4222 (TLS required) or host:port. At least one. */
  servers: readonly string[];
  /**
   * TLS: the CA that the server's certificate must chain to, and for mutual TLS this client's
   * certificate and key (PEM text or file paths). A CA alone, or a tls:// URL, turns TLS on.
   */
  tls?: { ca?: string | Buffer; cert?: string | Buffer; key?: string | Buffer };
  /** A creds file (user JWT and nkey seed), as `nsc` or `nats context` write it. */
  credsFile?: string;
  user?: string;
  password?: string;
  token?: string;
  /** The connection's name in nats-server's monitoring (connz). */
  name?: string;
}

export function checkConnectOptions(o: BusConnectOptions, who: string): void {
  if (!o.servers || o.servers.length === 0 || o.servers.some((s) => typeof s !== 'string' || s.trim() === '')) {
    throw new TypeError(`${who}: nats servers needs at least one URL (nats://host:4222)`);
  }
  const ways = [o.credsFile !== undefined && 'a creds file', o.token !== undefined && 'a token', o.user !== undefined && 'user/password'].filter(Boolean);
  if (ways.length > 1) throw new TypeError(`${who}: nats credentials: give one of creds file, token or user/password, not ${ways.join(' and ')}`);
  if ((o.user === undefined) !== (o.password === undefined)) throw new TypeError(`${who}: nats user and password go together`);
  const tls = o.tls ?? {};
  if ((tls.cert === undefined) !== (tls.key === undefined)) throw new TypeError(`${who}: nats TLS client certificate and key go together`);
}

/** The nats.js options for these settings; files are read now, so a missing one is an error here. */
export function natsOptions(o: BusConnectOptions): NodeConnectionOptions {
  const options: NodeConnectionOptions = { servers: [...o.servers], name: o.name };
  if (o.credsFile !== undefined) {
    let creds: Buffer;
    try {
      creds = readFileSync(o.credsFile);
    } catch (err) {
      throw new Error(`cannot read nats creds file ${o.credsFile}: ${(err as Error).message}`);
    }
    options.authenticator = credsAuthenticator(new Uint8Array(creds));
  }
  if (o.token !== undefined) options.token = o.token;
  if (o.user !== undefined) {
    options.user = o.user;
    options.pass = o.password;
  }
  const tls = o.tls;
  if (tls && (tls.ca !== undefined || tls.cert !== undefined)) {
    options.tls = {
      ...(tls.ca !== undefined && { ca: loadPem(tls.ca, 'nats tls ca').toString() }),
      ...(tls.cert !== undefined && { cert: loadPem(tls.cert, 'nats tls cert').toString() }),
      ...(tls.key !== undefined && { key: loadPem(tls.key, 'nats tls key').toString() }),
    };
  }
  return options;
}

/** A connection failure in words a NATS user recognises, naming the servers tried. */
export function describeConnectError(err: unknown, servers: readonly string[]): string {
  const where = servers.join(', ');
  if (err instanceof errors.AuthorizationError || /authoriz|authentic/i.test(String((err as Error)?.message))) {
    return `NATS ${where} refused the credentials (${(err as Error).message}): check the nats user/password, token or creds file`;
  }
  const message = err instanceof Error ? err.message : String(err);
  const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
  return `cannot connect to NATS ${where}: ${message}${cause}`;
}

/** True for errors that another attempt cannot fix (credentials, TLS setup, bad options). */
export function isPermanentConnectError(err: unknown): boolean {
  if (err instanceof errors.AuthorizationError || err instanceof errors.InvalidArgumentError) return true;
  const text = `${(err as Error)?.message ?? ''} ${((err as Error)?.cause as Error | undefined)?.message ?? ''}`;
  return /authoriz|authentic|certificate|self.signed|tls/i.test(text);
}

/** One connection that reconnects by itself after it was up once (nats.js's own reconnect, forever). */
export function connectBus(o: BusConnectOptions): Promise<NatsConnection> {
  return connect({
    ...natsOptions(o),
    maxReconnectAttempts: -1,
    reconnectTimeWait: 1000,
    // Error objects with stacks per request cost more than the publish itself.
    noAsyncTraces: true,
  });
}
