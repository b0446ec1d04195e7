// The host process is never kept alive by the transmitter, and never loses alerts silently.

import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createReceiver, type Receiver } from '../dist/src/index.js';
import { tempDir } from './helpers/pki.js';
import { CollectingSink } from './helpers/harness.js';

const HOST = fileURLToPath(new URL('./fixtures/exit-host.mjs', import.meta.url));
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Resolves when the host process exits: one held open by the transmitter would never resolve, and fail at the test's timeout. */
function runHost(target: string, count: number, exitFlushMs: number): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [HOST, target, String(count), String(exitFlushMs)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout.resume();
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stderr })));
}

describe('process exit', () => {
  it('a host that just ends delivers what it emitted during the bounded exit flush', async () => {
    const sock = `unix://${join(tempDir(), 'exit.sock')}`;
    const sink = new CollectingSink();
    const receiver: Receiver = createReceiver({ listen: [sock], sink });
    cleanups.push(() => receiver.close());
    await receiver.start();
    const result = await runHost(sock, 2000, 60_000); // a bound no worker start-up comes near; it exits once all are acked
    expect(result.code).toBe(0);
    expect(result.stderr).not.toMatch(/lost/);
    expect(sink.alerts.length).toBe(2000);
  });

  it('with the receiver down, the host still exits after the bounded flush and reports the loss on stderr', async () => {
    const sock = `unix://${join(tempDir(), 'nobody.sock')}`;
    const result = await runHost(sock, 500, 300);
    // It exited (neither the worker nor the retry loop held it open), cleanly, after saying what it lost.
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/process exiting with 500 alert\(s\) not acknowledged by unix:.*nobody\.sock; they are lost/);
  });
});
