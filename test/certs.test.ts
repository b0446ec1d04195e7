// `certs` makes a PKI that a real mTLS handshake accepts, with private keys kept private.

import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { statSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { createGrpcOutput } from '../dist/src/index.js';
import { CLI, emitRange, startReceiverProcess } from './helpers/harness.js';
import { tempDir } from './helpers/pki.js';

function certs(args: string[]) {
  return spawnSync(process.execPath, [CLI, 'certs', ...args], { encoding: 'utf8', timeout: 60_000 });
}

describe('certs', () => {
  it('writes a CA, server and client certificates that a real mTLS receiver and transmitter accept', async () => {
    const dir = join(tempDir(), 'pki');
    expect(certs(['--out', dir, '--hosts', 'alerts.internal']).status).toBe(0);
    for (const key of ['ca.key', 'server.key', 'client.key']) expect(statSync(join(dir, key)).mode & 0o777).toBe(0o600);
    const receiver = await startReceiverProcess([
      '--listen', 'localhost:0', '--discard',
      '--tls-cert', join(dir, 'server.crt'), '--tls-key', join(dir, 'server.key'), '--tls-ca', join(dir, 'ca.crt'),
    ]);
    try {
      const output = createGrpcOutput({
        target: receiver.addresses[0]!,
        tls: { ca: join(dir, 'ca.crt'), cert: join(dir, 'client.crt'), key: join(dir, 'client.key') },
      });
      await emitRange(output, 0, 100);
      expect(await output.close()).toEqual({ flushed: true, pending: 0 });
    } finally {
      receiver.child.kill('SIGKILL');
    }
  });

  it('refuses to overwrite without --force, and --force resets key permissions', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'server.key'), 'old');
    chmodSync(join(dir, 'server.key'), 0o644);
    const refused = certs(['--out', dir]);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/refusing to overwrite .*server\.key \(use --force\)/);
    expect(certs(['--out', dir, '--force']).status).toBe(0);
    expect(statSync(join(dir, 'server.key')).mode & 0o777).toBe(0o600);
  });
});
