// `send`: Falco's JSON output into a real receiver child process, line for line.

import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLI, sendSummary, startReceiverProcess } from './helpers/harness.js';
import { tempDir } from './helpers/pki.js';

const DATA = fileURLToPath(new URL('./fixtures/falco-alerts.jsonl', import.meta.url));

function send(args: string[], stdin?: string): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [CLI, 'send', ...args], { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.end(stdin ?? '');
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stderr })));
}

describe('send', () => {
  it('carries every line of a Falco JSON file to the receiver, in order, field for field', async () => {
    const dir = tempDir();
    const out = join(dir, 'out.jsonl');
    const receiver = await startReceiverProcess(['--listen', `unix://${join(dir, 's.sock')}`, '--output-file', out]);
    try {
      // A 64 KiB ring: the file is ten times that, so send must wait for room, not drop.
      const result = await send(['--target', receiver.addresses[0]!, '--input', DATA, '--buffer-bytes', '65536']);
      expect(result.stderr).toMatch(sendSummary({ read: 1000, malformed: 0, emitted: 1000, acked: 1000, dropped: 0 }));
      expect(result.code).toBe(0);
      receiver.child.kill('SIGTERM');
      await receiver.exited;
      const lines = readFileSync(DATA, 'utf8').trim().split('\n');
      const back = readFileSync(out, 'utf8').trim().split('\n');
      expect(back).toEqual(lines); // byte for byte: numbers stay numbers, 64-bit ones exact
    } finally {
      receiver.child.kill('SIGKILL');
    }
  });

  it('receive --min-priority warning writes only Warning and more severe; the rest is acknowledged', async () => {
    const dir = tempDir();
    const out = join(dir, 'out.jsonl');
    const receiver = await startReceiverProcess(['--listen', `unix://${join(dir, 'p.sock')}`, '--output-file', out, '--min-priority', 'WARNING']);
    try {
      const result = await send(['--target', receiver.addresses[0]!, '--input', DATA]);
      expect(result.stderr).toMatch(sendSummary({ read: 1000, malformed: 0, emitted: 1000, acked: 1000, dropped: 0 }));
      receiver.child.kill('SIGTERM');
      await receiver.exited;
      const severe = new Set(['Emergency', 'Alert', 'Critical', 'Error', 'Warning']);
      const lines = readFileSync(DATA, 'utf8').trim().split('\n');
      const kept = lines.filter((l) => severe.has((JSON.parse(l) as { priority: string }).priority));
      expect(kept.length).toBeGreaterThan(0);
      expect(kept.length).toBeLessThan(lines.length);
      expect(readFileSync(out, 'utf8').trim().split('\n')).toEqual(kept);
    } finally {
      receiver.child.kill('SIGKILL');
    }
  });

  it('reports malformed lines with their line number and reason, skips them, and sends the rest', async () => {
    const dir = tempDir();
    const receiver = await startReceiverProcess(['--listen', `unix://${join(dir, 'm.sock')}`, '--discard']);
    try {
      const good = readFileSync(DATA, 'utf8').split('\n').slice(0, 3);
      const input = [good[0], '{"rule": broken', good[1], '', '{"rule":"r","priority":"loud","time":"2025-11-27T05:00:00Z"}', good[2]].join('\n');
      const result = await send(['--target', receiver.addresses[0]!], input);
      expect(result.stderr).toMatch(/line 2: not JSON: .*; skipped/);
      expect(result.stderr).toMatch(/line 5: invalid alert: priority "loud" is not a Falco priority/);
      // The bad priority is emitted and refused by emit(): dropped as invalid, and counted as malformed.
      expect(result.stderr).toMatch(sendSummary({ read: 5, malformed: 2, emitted: 4, acked: 3, dropped: 1 }));
      expect(result.code).toBe(0);
    } finally {
      receiver.child.kill('SIGKILL');
    }
  });

  it('exits 1 when alerts could not be delivered, and says how many', async () => {
    const line = readFileSync(DATA, 'utf8').split('\n')[0]!;
    const result = await send(['--target', `unix://${join(tempDir(), 'nobody.sock')}`, '--flush-timeout', '1'], `${line}\n${line}\n`);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(sendSummary({ read: 2, malformed: 0, emitted: 2, acked: 0, dropped: 2 }));
    expect(result.stderr).toMatch(/closed with 2 alert\(s\) not acknowledged/);
    expect(result.stderr).toMatch(/dropped 2 \(unacked_at_close 2: still unacknowledged when --flush-timeout ran out\)/);
    // The cause, as it happened and once more at the end.
    expect(result.stderr).toMatch(/cannot connect: UNAVAILABLE: [^\n]*ENOENT[^\n]*nobody\.sock/);
    expect(result.stderr).toMatch(/last error: UNAVAILABLE: [^\n]*ENOENT/);
  });
});
