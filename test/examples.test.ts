// The README's examples run as a user would run them from a clone.

import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseExact } from './helpers/harness.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

describe('examples', () => {
  it('examples/library.mjs delivers its alert and prints it as a Falco JSON line', () => {
    const run = spawnSync(process.execPath, ['examples/library.mjs'], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
    expect(run.status).toBe(0);
    expect(parseExact(run.stdout.trim())).toEqual({
      hostname: 'worker-node-1',
      output: 'A shell was spawned in a container (user=root)',
      priority: 'Notice',
      rule: 'Terminal shell in container',
      source: 'syscall',
      tags: ['container', 'shell'],
      time: '2025-11-27T05:00:00.000000970Z',
      // evt.time is a JSON number in the line, exact to the last digit (parseExact reads it as a string)
      output_fields: { 'proc.name': 'bash', 'evt.time': '1764219600000000970', 'fd.name': null },
    });
    expect(run.stderr).toMatch(/flush: \{ flushed: true, pending: 0 \}/);
  });
});
