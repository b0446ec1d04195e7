// The --tls-* / --insecure flags shared by every command that opens a gRPC connection.

import { Option, type Command } from 'commander';
import type { TlsOptions, TlsSettings } from '../tls/pem.js';

/** The flags' values, as commander parses them. */
export type TlsFlags = TlsSettings;

/** With `envPrefix`, each flag can also come from the environment variable PREFIX + TLS_CA etc. */
export function addTlsFlags(cmd: Command, role: 'client' | 'server', envPrefix?: string): Command {
  const peer = role === 'client' ? 'receiver' : 'client';
  const flag = (flags: string, description: string, env: string): Option => {
    const option = new Option(flags, description);
    return envPrefix ? option.env(envPrefix + env) : option;
  };
  return cmd
    .addOption(flag('--tls-ca <file>', `CA certificate that the ${peer}'s certificate must chain to`, 'TLS_CA'))
    .addOption(flag('--tls-cert <file>', `this ${role}'s certificate (PEM)`, 'TLS_CERT'))
    .addOption(flag('--tls-key <file>', `this ${role}'s private key (PEM)`, 'TLS_KEY'))
    .addOption(flag('--insecure', 'plaintext TCP (explicit opt-in; unix sockets never need it)', 'INSECURE'));
}

/** The TLS options, or null when none were given; half a set is an error naming what is missing. */
export function tlsFromFlags(flags: TlsFlags): TlsOptions | null {
  const { tlsCa, tlsCert, tlsKey } = flags;
  if (!tlsCa && !tlsCert && !tlsKey) return null;
  const missing = [!tlsCa && '--tls-ca', !tlsCert && '--tls-cert', !tlsKey && '--tls-key'].filter(Boolean);
  if (missing.length > 0) throw new Error(`mTLS needs --tls-ca, --tls-cert and --tls-key; missing ${missing.join(', ')}`);
  return { ca: tlsCa!, cert: tlsCert!, key: tlsKey! };
}
