// The command line's errors name the flag and what is wrong, in the user's words, before anything
// connects or listens; nothing else reaches stderr (no grpc-js log lines, no Node deprecations).
// Real child processes, real files, certificates made here.

import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDevPki } from '../dist/src/index.js';
import { CLI, sendSummary, startReceiverProcess } from './helpers/harness.js';
import { tempDir, testPki, writePki } from './helpers/pki.js';

const ALERT = readFileSync(fileURLToPath(new URL('./fixtures/falco-alerts.jsonl', import.meta.url)), 'utf8').split('\n')[0]!;
const PACKAGE = JSON.parse(readFileSync(fileURLToPath(new URL('../package.json', import.meta.url)), 'utf8')) as { version: string };
const PKI = writePki(testPki());
const OTHER = writePki(createDevPki({ name: 'other' }));

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

/** Runs the CLI to its end (asynchronously: a blocked test worker loses its link to vitest). */
function cli(args: string[], input = '', env: Record<string, string> = {}): Promise<{ code: number | null; stderr: string; stdout: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin!.end(input);
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stderr, stdout })));
}

const noStrayLines = /DEP0123|DeprecationWarning|No address added|--trace-warnings|^E /m;

describe('the command line', () => {
  it('--version prints the package version', async () => {
    for (const flag of ['--version', '-V']) {
      const run = await cli([flag]);
      expect(run.code).toBe(0);
      expect(run.stdout.trim()).toBe(PACKAGE.version);
    }
  });

  const f = (name: string): string => join(PKI, name);
  it.each([
    ['a TCP target without TLS flags', ['--target', '127.0.0.1:50051'],
      '--target 127.0.0.1:50051 is a TCP address: give --tls-ca, --tls-cert and --tls-key for mTLS (falco-grpc-output certs makes a set), or --insecure for plaintext; a unix:///path target needs neither'],
    ['a malformed address', ['--target', 'notaport'], '--target: expected host:port or unix:///path, got "notaport"'],
    ['a port out of range', ['--target', 'localhost:99999', '--insecure'], '--target: expected host:port or unix:///path, got "localhost:99999"'],
    ['a size with a unit it does not know', ['--target', 'unix:///tmp/x.sock', '--buffer-bytes', '1MeB'], '--buffer-bytes: expected a size in bytes'],
    ['half a TLS set', ['--target', '127.0.0.1:1', '--tls-ca', f('ca.crt')], 'mTLS needs --tls-ca, --tls-cert and --tls-key; missing --tls-cert, --tls-key'],
    ['a key that does not belong to the certificate', ['--target', '127.0.0.1:1', '--tls-ca', f('ca.crt'), '--tls-cert', f('client.crt'), '--tls-key', join(OTHER, 'client.key')],
      `--tls-key ${join(OTHER, 'client.key')} is not the private key of the certificate in --tls-cert ${f('client.crt')} (their public keys differ)`],
    ['a file that is not there', ['--target', '127.0.0.1:1', '--tls-ca', f('nope.crt'), '--tls-cert', f('client.crt'), '--tls-key', f('client.key')], `--tls-ca ${f('nope.crt')}: cannot read it: no such file`],
    ['a key given as the certificate', ['--target', '127.0.0.1:1', '--tls-ca', f('ca.crt'), '--tls-cert', f('client.key'), '--tls-key', f('client.key')],
      `--tls-cert ${f('client.key')}: not a PEM certificate (expected -----BEGIN CERTIFICATE-----)`],
    ['a certificate given as the key', ['--target', '127.0.0.1:1', '--tls-ca', f('ca.crt'), '--tls-cert', f('client.crt'), '--tls-key', f('client.crt')],
      `--tls-key ${f('client.crt')}: not a PEM private key`],
    ['a flush timeout that is not a number', ['--target', 'unix:///tmp/x.sock', '--flush-timeout', 'soon'], '--flush-timeout: expected a number of seconds >= 0, got "soon"'],
  ])('send refuses %s, naming the flag, before it reads anything', async (_name, args, message) => {
    const run = await cli(['send', ...args], `${ALERT}\n`);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(message);
    expect(run.stderr).not.toMatch(/createGrpcOutput|tls \{ ca, cert, key \}|insecure: true|bufferBytes|key values mismatch|x509/);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('send takes --buffer-bytes with a unit, and a text (non-JSON) Falco line gets the json_output hint', async () => {
    const dir = tempDir();
    const receiver = await startReceiverProcess(['--listen', `unix://${join(dir, 'r.sock')}`, '--discard']);
    children.push(receiver.child);
    const text = '05:00:00.000000970: Notice Redirect stdout/stdin to network connection (gparent=/usr/bin/nc fd.sip=10.0.0.1)';
    const huge = '{"rule":"r","priority":"Notice","time":"2025-11-27T05:00:00Z","output_fields":{"a":1e400}}';
    const run = await cli(['send', '--target', receiver.addresses[0]!, '--buffer-bytes', '1MiB'], `${ALERT}\n${text}\n${huge}\n${ALERT}\n`);
    expect(run.stderr).toContain('line 2: not JSON, but text: set json_output: true in falco.yaml (Falco writes text lines like this one when it is false); skipped');
    // A number beyond a double parses to Infinity: refused, not sent on as null.
    expect(run.stderr).toContain('line 3: output_fields["a"]: number out of range (beyond a 64-bit double); skipped');
    expect(run.stderr).toMatch(sendSummary({ read: 4, malformed: 2, emitted: 2, acked: 2, dropped: 0 }));
    expect(run.code).toBe(0);
    expect(run.stderr).not.toMatch(noStrayLines);
  });

  it('receive names the flag for a socket directory that does not exist, an address in use, a bad size, a mismatched key', async () => {
    const missing = await cli(['receive', '--listen', 'unix:///nonexistent-dir/sub/r.sock', '--discard']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--listen unix:///nonexistent-dir/sub/r.sock: the directory /nonexistent-dir/sub does not exist; create it first');
    expect(missing.stderr).not.toMatch(/EACCES|permission denied/);

    if (process.getuid?.() !== 0) {
      // root creates files anywhere: a directory without write permission means something only to other users
      const locked = join(tempDir(), 'locked');
      mkdirSync(locked);
      chmodSync(locked, 0o500);
      const denied = await cli(['receive', '--listen', `unix://${join(locked, 'r.sock')}`, '--discard']);
      expect(denied.code).toBe(2);
      expect(denied.stderr).toContain(`--listen unix://${join(locked, 'r.sock')}: cannot create files in ${locked}: permission denied`);
    }

    const first = await startReceiverProcess(['--listen', '127.0.0.1:0', '--insecure', '--discard']);
    children.push(first.child);
    const taken = await cli(['receive', '--listen', first.addresses[0]!, '--insecure', '--discard']);
    expect(taken.code).toBe(2);
    expect(taken.stderr.trim()).toBe(`falco-grpc-output: --listen ${first.addresses[0]}: the address is already in use (another receiver, or another program, is listening there)`);

    const size = await cli(['receive', '--listen', 'unix:///tmp/x.sock', '--max-message-bytes', '16 MeB']);
    expect(size.code).not.toBe(0);
    expect(size.stderr).toMatch(/--max-message-bytes <size>.*expected a size in bytes/);

    const key = await cli(['receive', '--listen', '127.0.0.1:0', '--tls-ca', join(PKI, 'ca.crt'), '--tls-cert', join(PKI, 'server.crt')], '', {
      FALCO_GRPC_OUTPUT_TLS_KEY: join(OTHER, 'server.key'),
    });
    expect(key.code).toBe(2);
    expect(key.stderr).toContain(`FALCO_GRPC_OUTPUT_TLS_KEY=${join(OTHER, 'server.key')} is not the private key of the certificate in --tls-cert ${join(PKI, 'server.crt')}`);
    for (const run of [missing, taken, size, key]) expect(run.stderr).not.toMatch(noStrayLines);
  });

  it('receive takes --max-message-bytes with a unit', async () => {
    const receiver = await startReceiverProcess(['--listen', `unix://${join(tempDir(), 'r.sock')}`, '--discard', '--max-message-bytes', '16MiB']);
    children.push(receiver.child);
    expect(receiver.addresses).toHaveLength(1);
  });

  it('a config file names the file and key for a key that does not match its certificate', async () => {
    const config = join(tempDir(), 'falco.yaml');
    writeFileSync(config, `falco_grpc_output:\n  receive:\n    listen: 127.0.0.1:0\n    tls_ca: ${join(PKI, 'ca.crt')}\n    tls_cert: ${join(PKI, 'server.crt')}\n    tls_key: ${join(OTHER, 'server.key')}\n`);
    const run = await cli(['receive', '--config', config]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`${join(OTHER, 'server.key')} (from --config ${config}) is not the private key of the certificate in ${join(PKI, 'server.crt')} (from --config ${config})`);
  });

  it('flood refuses --report into a directory that does not exist before it runs', () => {
    const started = spawn(process.execPath, [CLI, 'flood', '--rate', '1000', '--duration', '30', '--report', '/nonexistent-dir/report.html'], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(started);
    let stdout = '';
    let stderr = '';
    started.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    started.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    return new Promise<void>((resolve) => {
      started.on('exit', (code) => {
        expect(code).toBe(2);
        expect(stderr).toBe('falco-grpc-output: --report /nonexistent-dir/report.html: the directory /nonexistent-dir does not exist\n');
        expect(stdout).toBe(''); // no flood ran: no progress, no report
        resolve();
      });
    });
  });
});
