// The README's own commands and code, taken from README.md as a user would copy them, run for
// real: the quick start from nothing to mTLS, and the library example. When the README drifts
// from what the code does, this fails.

import { afterEach, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLI, parseExact, waitFor } from './helpers/harness.js';
import { tempDir } from './helpers/pki.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

/** The fenced blocks of one language under a `## heading` of the README, in order. */
function blocks(heading: string, lang: string): string[] {
  const start = README.indexOf(`\n## ${heading}`);
  if (start < 0) throw new Error(`README.md has no "## ${heading}" section`);
  const end = README.indexOf('\n## ', start + 1);
  const section = README.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]!);
}

/** A README command line as it runs from a clone: `npx falco-grpc-output` is the built CLI. */
const asRun = (commands: string): string => commands.replaceAll('npx falco-grpc-output', `"${process.execPath}" "${CLI}"`);

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

describe('README', () => {
  it('quick start: certs, an mTLS receiver, and one alert sent to it, as written', async () => {
    const [setup, sendBlock] = blocks('Quick start: from nothing to mTLS', 'sh');
    expect(setup).toMatch(/certs --out/);
    const cwd = tempDir('fgo-readme-');
    const [certsLine, ...receiveLines] = setup!.split('\n').filter((l) => l.trim() !== '');
    const certs = spawnSync('sh', ['-c', asRun(certsLine!)], { cwd, encoding: 'utf8' });
    expect(certs.stderr + certs.stdout).not.toMatch(/error/i);
    expect(certs.status).toBe(0);

    // The receiver on the README's address, with port 0 so that parallel runs never collide.
    const receiveCommand = asRun(receiveLines.join('\n')).replace('localhost:50051', 'localhost:0');
    const receiver = spawn('sh', ['-c', `exec ${receiveCommand}`], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(receiver);
    let out = '';
    let err = '';
    receiver.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    receiver.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    await waitFor(() => `receiver to listen (stderr: ${err})`, () => /listening on \S+:\d+/.test(err) || receiver.exitCode !== null);
    const port = /listening on \S+:(\d+)/.exec(err)![1]!;

    const send = spawnSync('sh', ['-c', asRun(sendBlock!).replace('localhost:50051', `localhost:${port}`)], { cwd, encoding: 'utf8' });
    // What the README promises, word for word.
    expect(send.stderr).toContain('read 1, malformed 0');
    expect(send.stderr).toContain(`grpc localhost:${port}: emitted 1, acked 1, dropped 0`);
    expect(README).toContain('`read 1, malformed 0` and `grpc localhost:50051: emitted 1, acked 1, dropped 0`');
    expect(send.status).toBe(0);
    await waitFor('the alert on the receiver stdout', () => out.includes('\n'));
    expect(parseExact(out.trim())).toMatchObject({ rule: 'Terminal shell in container', priority: 'Notice' });
  });

  it('the library example runs as written and delivers its alert', () => {
    const [code] = blocks('Library', 'js');
    expect(code).toMatch(/from 'falco-grpc-output'/);
    const socket = join(tempDir('fgo-readme-'), 'alerts.sock');
    // Inside the package, so that `import ... from 'falco-grpc-output'` resolves to this clone.
    const script = join(ROOT, 'examples', `.readme-example-${process.pid}.mjs`);
    writeFileSync(script, code!.replaceAll('/tmp/falco-alerts.sock', socket));
    try {
      const run = spawnSync(process.execPath, [script], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
      expect(run.status).toBe(0);
      expect(parseExact(run.stdout.trim())).toMatchObject({
        rule: 'Terminal shell in container',
        priority: 'Notice',
        output_fields: { 'proc.name': 'bash', 'evt.time': '1764219600000000970', 'fd.name': null },
      });
      expect(run.stderr).toMatch(/flushed: true/);
    } finally {
      rmSync(script, { force: true });
    }
  });
});
