// `send --config falco.yaml`: one process replacing Falco's whole output stage. Each input alert
// goes to every output the config enables (gRPC included), each output on its own pace.

import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLI, startReceiverProcess, waitFor } from './helpers/harness.js';
import { tempDir } from './helpers/pki.js';

const DATA = fileURLToPath(new URL('./fixtures/falco-alerts.jsonl', import.meta.url));
const LINES = readFileSync(DATA, 'utf8').trim().split('\n');

const cleanups: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function send(args: string[], stdin = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, 'send', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.end(stdin);
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
}

const readLines = (path: string): string[] => (existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean) : []);

async function receiver(dir: string) {
  const out = join(dir, 'received.jsonl');
  const r = await startReceiverProcess(['--listen', `unix://${join(dir, 'r.sock')}`, '--output-file', out]);
  cleanups.push(() => {
    r.child.kill('SIGTERM');
    return r.exited;
  });
  return { address: r.addresses[0]!, out };
}

describe('send --config falco.yaml', () => {
  it("writes every alert to gRPC, file_output and program_output, with Falco's keys unchanged", async () => {
    const dir = tempDir();
    const { address, out } = await receiver(dir);
    const config = join(dir, 'falco.yaml');
    writeFileSync(
      config,
      [
        'json_output: true',
        'stdout_output:',
        '  enabled: false',
        'file_output:',
        '  enabled: true',
        '  keep_alive: false',
        `  filename: ${join(dir, 'events.json')}`,
        'program_output:',
        '  enabled: true',
        '  keep_alive: true',
        `  program: "cat >> ${join(dir, 'program.json')}"`,
        'falco_grpc_output:',
        '  send:',
        `    target: ${address}`,
        '',
      ].join('\n'),
    );
    const result = await send(['--config', config, '--input', DATA]);
    expect(result.stderr).toMatch(/read 1000, malformed 0, to 3 outputs/);
    expect(result.code, result.stderr).toBe(0);
    for (const name of ['grpc', 'file', 'program']) expect(result.stderr).toMatch(new RegExp(`${name} [^\\n]*: emitted 1000, acked 1000, dropped 0`));
    // Byte for byte, as Falco wrote them: numbers stay numbers, 64-bit ones exact.
    expect(readLines(join(dir, 'events.json'))).toEqual(LINES);
    expect(readLines(join(dir, 'program.json'))).toEqual(LINES);
    await waitFor('receiver wrote all', () => readLines(out).length === LINES.length);
    expect(readLines(out)).toEqual(LINES);
  });

  it('json_output: false writes the text lines; stdout_output (on by default, as in Falco) goes to stdout', async () => {
    const dir = tempDir();
    const config = join(dir, 'falco.yaml');
    writeFileSync(config, ['json_output: false', 'file_output:', '  enabled: true', `  filename: ${join(dir, 'events.txt')}`, ''].join('\n'));
    const result = await send(['--config', config], LINES.slice(0, 50).join('\n') + '\n');
    expect(result.code, result.stderr).toBe(0);
    const texts = LINES.slice(0, 50).map((l) => (JSON.parse(l) as { output: string }).output);
    expect(readLines(join(dir, 'events.txt'))).toEqual(texts);
    expect(result.stdout.split('\n').filter(Boolean)).toEqual(texts);
  });

  it('an http_output that always fails loses only its own alerts, counted; the file gets all; exit 1', async () => {
    const dir = tempDir();
    let posts = 0;
    const server: Server = createServer((req, res) => {
      posts++;
      req.resume();
      res.writeHead(500).end('broken');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
    const config = join(dir, 'falco.yaml');
    writeFileSync(
      config,
      ['json_output: true', 'stdout_output:', '  enabled: false', 'file_output:', '  enabled: true', `  filename: ${join(dir, 'events.json')}`, 'http_output:', '  enabled: true', `  url: "${url}"`, '  max_attempts: 2', ''].join('\n'),
    );
    const result = await send(['--config', config, '--flush-timeout', '20'], LINES.slice(0, 20).join('\n') + '\n');
    expect(result.code).toBe(1);
    expect(readLines(join(dir, 'events.json'))).toHaveLength(20);
    expect(result.stderr).toMatch(/file [^\n]*: emitted 20, acked 20, dropped 0\n/);
    expect(result.stderr).toMatch(/http [^\n]*: emitted 20, acked 0, dropped 20 \(failed 20: the channel gave up after its retries\)\n[^\n]*http [^\n]*: last error: [^\n]*500/);
    // Said while it happened: the failing output, its first drop, and the end of the episode.
    expect(result.stderr).toMatch(/http [^\n]*: failing: [^\n]*500/);
    expect(result.stderr).toMatch(/http [^\n]*: dropping alerts: the channel gave up on them after its retries/);
    expect(result.stderr).toMatch(/http [^\n]*: 20 alert\(s\) dropped over [\d.]+ s \(failed 20\)/);
    expect(posts).toBeGreaterThanOrEqual(2);
  });

  it('a misspelt output key or a bad value stops before sending, naming the key and the file', async () => {
    const dir = tempDir();
    const config = join(dir, 'falco.yaml');
    writeFileSync(config, ['file_output:', '  enabled: true', '  filenme: /tmp/x.json', ''].join('\n'));
    const typo = await send(['--config', config], LINES[0]! + '\n');
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/falco\.yaml.*file_output\.filenme/);
    writeFileSync(config, ['http_output:', '  enabled: true', '  url: 42', ''].join('\n'));
    const bad = await send(['--config', config], LINES[0]! + '\n');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/falco\.yaml.*http_output\.url/);
  });

  it('without --target or --config, says what to give', async () => {
    const result = await send([], LINES[0]! + '\n');
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/give --target \(a receiver\) or --config/);
  });
});
