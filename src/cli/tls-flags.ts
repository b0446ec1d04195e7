// The --tls-* / --insecure flags shared by every command that opens a gRPC connection, and the
// checks made on them before anything connects or listens: which flags are missing, and files
// that cannot be read, are not what they should be, or do not belong together, named as given.

import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import type { TlsOptions, TlsSettings } from '../tls/pem.js';
import { isUnixAddress } from '../config/checks.js';

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

/**
 * What a client command connects to `target` with: mTLS from the flags (files checked), or
 * nothing for a unix socket or with --insecure; a TCP target without either is an error that
 * says which flags to give.
 */
export function clientTls(flags: TlsFlags, target: string, targetFlag = '--target'): TlsOptions | undefined {
  const tls = tlsFromFlags(flags);
  if (tls) {
    checkTlsFiles(tls, { ca: `--tls-ca ${String(tls.ca)}`, cert: `--tls-cert ${String(tls.cert)}`, key: `--tls-key ${String(tls.key)}` });
    return tls;
  }
  if (!isUnixAddress(target) && !flags.insecure) {
    throw new Error(
      `${targetFlag} ${target} is a TCP address: give --tls-ca, --tls-cert and --tls-key for mTLS ` +
        `(falco-grpc-output certs makes a set), or --insecure for plaintext; a unix:///path target needs neither`,
    );
  }
  return undefined;
}

/** How each file is named in messages: the flag and the path ("--tls-key pki/client.key"), or a config key. */
export type TlsLabels = Record<keyof TlsOptions, string>;

function readPemFile(path: string | Buffer, label: string): Buffer {
  if (Buffer.isBuffer(path)) return path;
  if (path.includes('-----BEGIN')) return Buffer.from(path);
  try {
    return readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : (err as Error).message;
    throw new Error(`${label}: cannot read it: ${why}`);
  }
}

function certificate(pem: Buffer, label: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch {
    throw new Error(`${label}: not a PEM certificate (expected -----BEGIN CERTIFICATE-----)`);
  }
}

function privateKey(pem: Buffer, label: string): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (err) {
    const encrypted = /passphrase|encrypted/i.test((err as Error).message) || pem.includes('ENCRYPTED');
    throw new Error(`${label}: ${encrypted ? 'an encrypted private key; give it without a passphrase' : 'not a PEM private key (expected -----BEGIN PRIVATE KEY-----)'}`);
  }
}

/**
 * Reads the three files and checks that each is what it should be and that the key belongs to the
 * certificate, so a mix-up is named at start instead of as OpenSSL's "key values mismatch" from a
 * worker thread, or a handshake that fails for no stated reason.
 */
export function checkTlsFiles(tls: TlsOptions, labels: TlsLabels): void {
  certificate(readPemFile(tls.ca, labels.ca), labels.ca);
  const cert = certificate(readPemFile(tls.cert, labels.cert), labels.cert);
  const key = privateKey(readPemFile(tls.key, labels.key), labels.key);
  if (!cert.checkPrivateKey(key)) {
    throw new Error(`${labels.key} is not the private key of the certificate in ${labels.cert} (their public keys differ): give the key made with that certificate`);
  }
  const now = Date.now();
  if (Date.parse(cert.validTo) < now) throw new Error(`${labels.cert}: the certificate expired on ${cert.validTo}`);
}

/** The library's names of the TLS settings, in a message, as the flags that set them. */
export function inFlagWords(text: string): string {
  return text
    .replace(/\(tls\.cert, tls\.key\)/g, '(--tls-cert, --tls-key)')
    .replace(/\(tls\.ca\)/g, '(--tls-ca)')
    .replace(/\(insecure\)/g, '(--insecure)')
    .replace(/\(insecure: true\)/g, '(--insecure)');
}
