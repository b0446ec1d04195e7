// The --tls-* / --insecure flags shared by every command that opens a gRPC connection.

import type { Command } from 'commander';
import type { TlsOptions } from '../tls/pem.js';

export interface TlsFlags {
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
  insecure?: boolean;
}

export function addTlsFlags(cmd: Command, role: 'client' | 'server'): Command {
  const peer = role === 'client' ? 'receiver' : 'client';
  return cmd
    .option('--tls-ca <file>', `CA certificate that the ${peer}'s certificate must chain to`)
    .option('--tls-cert <file>', `this ${role}'s certificate (PEM)`)
    .option('--tls-key <file>', `this ${role}'s private key (PEM)`)
    .option('--insecure', 'plaintext TCP (explicit opt-in; unix sockets never need it)');
}

/** The TLS options, or null when none were given; half a set is an error naming what is missing. */
export function tlsFromFlags(flags: TlsFlags): TlsOptions | null {
  const { tlsCa, tlsCert, tlsKey } = flags;
  if (!tlsCa && !tlsCert && !tlsKey) return null;
  const missing = [!tlsCa && '--tls-ca', !tlsCert && '--tls-cert', !tlsKey && '--tls-key'].filter(Boolean);
  if (missing.length > 0) throw new Error(`mTLS needs --tls-ca, --tls-cert and --tls-key; missing ${missing.join(', ')}`);
  return { ca: tlsCa!, cert: tlsCert!, key: tlsKey! };
}
