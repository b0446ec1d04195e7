// `receive --config`: the CLI as a child process, reading a Falco falco.yaml from a real file,
// listening where it says, and refusing a bad file before it listens.

import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createGrpcOutput } from '../dist/src/index.js';
import { falcoYaml, writeConfig } from './helpers/config-files.js';
import { CLI, numberedAlert, startReceiverProcess, waitFor } from './helpers/harness.js';
import { clientTls, tempDir, writePki } from './helpers/pki.js';

describe('receive --config (child process)', () => {
  it('refuses a config file over 4 MiB from a pipe too: the read itself stops past the limit', async () => {
    // A pipe has no size to look at first: the read itself stops past the limit.
    const child = spawn('bash', ['-c', `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} receive --config <(yes 'priority: debug') --discard --listen unix:///tmp/never.sock`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(2);
    expect(err).toMatch(/config file \/dev\/fd\/\d+ is more than 4 MiB; files over 4 MiB are refused/);
  });

  it('listens on the bind_address of a Falco falco.yaml and writes what it receives; env and flags override it', async () => {
    const dir = tempDir('fgo-config-cli-');
    const out = join(dir, 'alerts.jsonl');
    const file = writeConfig(falcoYaml(`unix://${join(dir, 'falco.sock')}`, `falco_grpc_output:\n  receive:\n    output_file: ${out}\n`));
    const receiver = await startReceiverProcess(['--config', file]);
    try {
      expect(receiver.addresses).toEqual([`unix://${join(dir, 'falco.sock')}`]);
      expect(receiver.stderr()).not.toMatch(/warning/);
      const output = createGrpcOutput({ target: receiver.addresses[0]! });
      output.emit(numberedAlert(1));
      expect(await output.close()).toMatchObject({ flushed: true, pending: 0 });
      receiver.child.kill('SIGTERM');
      await receiver.exited;
      const lines = readFileSync(out, 'utf8').trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(JSON.parse(lines[0]!)).toMatchObject({ rule: 'Terminal shell in container', output_fields: { seq: 1 } });
    } finally {
      receiver.child.kill('SIGKILL');
    }

    const envSock = `unix://${join(dir, 'env.sock')}`;
    const byEnv = await startReceiverProcess(['--config', file], { FALCO_GRPC_OUTPUT_LISTEN: envSock });
    byEnv.child.kill('SIGKILL');
    expect(byEnv.addresses).toEqual([envSock]);

    const flagSock = `unix://${join(dir, 'flag.sock')}`;
    const byFlag = await startReceiverProcess(['--config', file, '--listen', flagSock], { FALCO_GRPC_OUTPUT_LISTEN: envSock });
    byFlag.child.kill('SIGKILL');
    expect(byFlag.addresses).toEqual([flagSock]);
  });

  it("serves mTLS on a TCP bind_address with the grpc: section's certificate files", async () => {
    const pki = writePki();
    const text = falcoYaml('127.0.0.1:0', 'falco_grpc_output:\n  receive:\n    discard: true\n').replace(
      '  threadiness: 0\n',
      `  threadiness: 0\n  private_key: ${join(pki, 'server.key')}\n  cert_chain: ${join(pki, 'server.crt')}\n  root_certs: ${join(pki, 'ca.crt')}\n`,
    );
    const receiver = await startReceiverProcess(['--config', writeConfig(text)]);
    try {
      expect(receiver.addresses[0]).toMatch(/^127\.0\.0\.1:\d+$/);
      const output = createGrpcOutput({ target: receiver.addresses[0]!, tls: clientTls() });
      for (let i = 0; i < 5; i++) output.emit(numberedAlert(i));
      expect(await output.close()).toMatchObject({ flushed: true, pending: 0 });
      expect(output.stats().acked).toBe(5);
    } finally {
      receiver.child.kill('SIGKILL');
    }
  });

  it('exits non-zero before listening when the config is invalid, with the reason on stderr', async () => {
    const dir = tempDir('fgo-config-bad-');
    const sock = join(dir, 'never.sock');
    const file = writeConfig(`falco_grpc_output:\n  receive:\n    listen: [unix://${sock}]\ngrpc:\n  enabled: true\n  bind_address: 42\n`);
    const child = spawn(process.execPath, [CLI, 'receive', '--config', file], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).not.toBe(0);
    expect(stderr).toContain(`${file}:6: grpc.bind_address: expected a string, got 42`);
    expect(stderr).not.toContain('listening on');
    expect(existsSync(sock)).toBe(false);
  });

  it('exits non-zero on a YAML syntax error, naming the file and line', async () => {
    const file = writeConfig('grpc:\n  enabled: true\n bind_address: x\n');
    const child = spawn(process.execPath, [CLI, 'receive', '--config', file], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    await waitFor('stderr', () => stderr.length > 0);
    expect(code).not.toBe(0);
    expect(stderr).toContain(`${file}:3:1: YAML syntax error`);
  });

  it('refuses a config file over 4 MiB from a pipe, which has no size to look at first: the read itself stops past the limit', async () => {
    const child = spawn('bash', ['-c', `node ${JSON.stringify(CLI)} receive --config <(yes 'priority: debug') --discard --listen unix:///tmp/never.sock`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(2);
    expect(err).toMatch(/config file \/dev\/fd\/\d+ is more than 4 MiB; files over 4 MiB are refused/);
  });
});
