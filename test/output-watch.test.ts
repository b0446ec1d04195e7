// The CLI's watch of an output's stats (src/cli/output-watch.ts), fed stats as a worker publishes
// them, polled by hand: a connection that comes and goes between two polls is still a disconnect.

import { describe, expect, it } from 'vitest';
import { watchOutputs } from '../dist/src/cli/output-watch.js';
import type { OutputStats } from '../dist/src/index.js';

const NAME = 'grpc unix:///r.sock';
const ENOENT = 'UNAVAILABLE: No connection established. Last error: connect ENOENT /r.sock';

function stats(over: Partial<OutputStats>): OutputStats {
  const drops = { full: 0, too_large: 0, invalid: 0, rejected: 0, failed: 0, spool_full: 0, corrupt: 0, unacked_at_close: 0 };
  return { emitted: 0, replayed: 0, acked: 0, pending: 0, pendingBytes: 0, dropped: 0, drops, sent: 0, resent: 0, reconnects: 0, workerRestarts: 0, connection: 'idle', lastError: null, bufferBytes: 65536, spool: null, ...over };
}

/** Runs the watch over `sequence` (the first is read when the watch starts), one poll each; returns what it said. */
function said(sequence: OutputStats[]): string[] {
  const lines: string[] = [];
  let now = sequence[0]!;
  // The timer never fires within the test: each poll is ours.
  const watch = watchOutputs([{ name: NAME, stats: () => now }], (line) => lines.push(line), { intervalMs: 3_600_000 });
  for (const s of sequence.slice(1)) {
    now = s;
    watch.poll();
  }
  watch.stop();
  return lines;
}

describe('watchOutputs', () => {
  it('a receiver that acked and went away between two polls: "disconnected", then "connected again"', () => {
    expect(said([
      stats({ connection: 'idle' }),
      // Up, 10 alerts sent and acked, the receiver stopped: all since the last poll, never seen ready.
      stats({ connection: 'backoff', reconnects: 1, sent: 10, acked: 10, emitted: 10 }),
      stats({ connection: 'backoff', reconnects: 2, sent: 10, acked: 10, emitted: 10, lastError: ENOENT }),
      stats({ connection: 'ready', reconnects: 2, sent: 10, acked: 10, emitted: 10, lastError: ENOENT }),
    ])).toEqual([
      `${NAME}: disconnected: ${ENOENT}`,
      expect.stringMatching(new RegExp(`^${NAME}: connected again after [\\d.]+ s$`)),
    ]);
  });

  it('a receiver never reached: "cannot connect"', () => {
    expect(said([
      stats({ connection: 'idle', emitted: 10, pending: 10 }),
      stats({ connection: 'backoff', reconnects: 1, emitted: 10, pending: 10, lastError: ENOENT }),
    ])).toEqual([`${NAME}: cannot connect: ${ENOENT}`]);
  });
});
