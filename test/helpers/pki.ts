// Certificates made on the fly for tests, written to a temp dir when a test needs files.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDevPki, type DevPki } from '../../dist/src/index.js';

let cached: DevPki | null = null;

/** One PKI per test file (RSA key generation costs ~100 ms a key). */
export function testPki(): DevPki {
  cached ??= createDevPki();
  return cached;
}

export function serverTls(pki: DevPki = testPki()) {
  return { ca: pki.caCert, cert: pki.serverCert, key: pki.serverKey };
}

export function clientTls(pki: DevPki = testPki()) {
  return { ca: pki.caCert, cert: pki.clientCert, key: pki.clientKey };
}

/** Writes the PKI as files (Falco's names) and returns the directory. */
export function writePki(pki: DevPki = testPki()): string {
  const dir = mkdtempSync(join(tmpdir(), 'fgo-pki-'));
  const files: Record<string, string> = {
    'ca.crt': pki.caCert,
    'server.crt': pki.serverCert,
    'server.key': pki.serverKey,
    'client.crt': pki.clientCert,
    'client.key': pki.clientKey,
  };
  for (const [name, pem] of Object.entries(files)) writeFileSync(join(dir, name), pem, { mode: 0o600 });
  return dir;
}

export function tempDir(prefix = 'fgo-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}
