// TLS material is accepted as PEM text or as a path to a PEM file, everywhere.

import { readFileSync } from 'node:fs';

/** PEM text as given, or the contents of the file it names. */
export function loadPem(value: string | Buffer, what: string): Buffer {
  if (Buffer.isBuffer(value)) return value;
  if (value.includes('-----BEGIN')) return Buffer.from(value);
  try {
    return readFileSync(value);
  } catch (err) {
    throw new Error(`cannot read ${what} from ${value}: ${(err as Error).message}`);
  }
}

/**
 * The TLS settings as the CLI's flags, the environment and the config file's keys give them: file
 * paths named after the flags (--tls-ca, --tls-cert, --tls-key, --insecure).
 */
export interface TlsSettings {
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
  insecure?: boolean;
}

/** TLS files for one side of an mTLS connection. */
export interface TlsOptions {
  /** CA certificate(s) that the peer's certificate must chain to. */
  ca: string | Buffer;
  /** This side's certificate chain. */
  cert: string | Buffer;
  /** This side's private key. */
  key: string | Buffer;
}

export interface LoadedTls {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

export function loadTls(tls: TlsOptions): LoadedTls {
  return {
    ca: loadPem(tls.ca, 'tls.ca'),
    cert: loadPem(tls.cert, 'tls.cert'),
    key: loadPem(tls.key, 'tls.key'),
  };
}
