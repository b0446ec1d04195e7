// `program_output` with keep_alive: one long-lived program reading alerts on its stdin.
//
// "Delivered" means the program's stdin pipe accepted the lines: what the program does with them, and
// lines still unread in the pipe when it exits, cannot be known (Falco's popen() knows no more).
// When the program has died (it exited, or its stdin write failed with EPIPE), it is started again after
// a backoff of 100 ms doubling to 10 s, back to 100 ms once a run has lasted 10 s; the batch waits for
// the restart. A write that failed because the program died is made once more to the new program (one
// such retry per batch: a second failure counts the rest of the batch failed); lines are therefore
// never silently dropped on a restart, and a line is duplicated only if the dead program had read part
// of a piece before dying. A program that cannot run at all (the shell's 126/127, or no shell) fails
// batches at once until its backoff has passed.

import type { Channel, ChannelItem, DeliveryReport } from '../channel.js';
import { RetryBackoff } from '../../../common/backoff.js';
import { batchReport } from '../shared/report.js';
import { couldNotRun, describeExit, ShellProcess, type ExitStatus } from './shell-process.js';

const RESTART_MIN_MS = 100;
const RESTART_MAX_MS = 10_000;
const HEALTHY_RUN_MS = 10_000;
// Written in pieces of about this size, so that a program dying mid-batch costs at most one piece's
// worth of uncertainty (and one retry), not the whole batch.
const CHUNK_CHARS = 64 * 1024;

interface Chunk {
  text: string;
  lines: number;
}

export class LongLivedProgram implements Channel {
  private proc: ShellProcess | null = null;
  private readonly restart = new RetryBackoff(RESTART_MIN_MS, RESTART_MAX_MS);
  /** Why the last run ended when it could not run at all; cleared by the next start. */
  private cannotRun: string | null = null;
  private readonly closing = new AbortController();
  private closed: Promise<void> | null = null;

  constructor(private readonly program: string) {}

  async deliver(items: readonly ChannelItem[], hostSignal: AbortSignal): Promise<DeliveryReport> {
    if (this.closed !== null) return batchReport(items.length, 0, this.failure('output closed'));
    const signal = AbortSignal.any([hostSignal, this.closing.signal]);
    let delivered = 0;
    let retried = false;
    for (const chunk of chunksOf(items)) {
      for (;;) {
        const proc = await this.running(signal);
        if (typeof proc === 'string') return batchReport(items.length, delivered, this.failure(proc));
        const err = await writeUnlessAborted(proc, chunk.text, signal);
        if (err === null) break;
        if (signal.aborted || retried) return batchReport(items.length, delivered, this.failure(`its input failed: ${err.message}`));
        retried = true;
        await this.retire(proc); // its stdin is broken even if it still runs
      }
      delivered += chunk.lines;
    }
    return { delivered, failed: 0 };
  }

  close(): Promise<void> {
    this.closed ??= (async () => {
      this.closing.abort();
      if (this.proc !== null) await this.proc.stop();
    })();
    return this.closed;
  }

  /** The live program, started anew if needed; or why there is none. */
  private async running(signal: AbortSignal): Promise<ShellProcess | string> {
    if (this.proc?.alive) return this.proc;
    if (this.cannotRun !== null && this.restart.waiting) return this.cannotRun;
    if (!(await this.restart.ready(signal))) return 'aborted while waiting to restart it';
    const proc = new ShellProcess(this.program);
    this.proc = proc;
    this.cannotRun = null;
    void proc.exited.then((status) => this.ended(proc, status));
    return proc;
  }

  private ended(proc: ShellProcess, status: ExitStatus): void {
    if (performance.now() - proc.startedAt >= HEALTHY_RUN_MS) this.restart.reset();
    this.restart.failed();
    this.cannotRun = couldNotRun(status) ? describeExit(status) : null;
  }

  /** Stops a program whose input broke and waits until its exit is accounted for. */
  private async retire(proc: ShellProcess): Promise<void> {
    await proc.stop();
    await Promise.resolve(); // let ended() run before the next running()
  }

  private failure(reason: string): string {
    return `program_output "${this.program}": ${reason}`;
  }
}

function writeUnlessAborted(proc: ShellProcess, text: string, signal: AbortSignal): Promise<Error | null> {
  if (signal.aborted) return Promise.resolve(new Error('aborted'));
  return new Promise((resolve) => {
    const onAbort = (): void => resolve(new Error('aborted while the program was not reading'));
    signal.addEventListener('abort', onAbort, { once: true });
    void proc.write(text).then((err) => {
      signal.removeEventListener('abort', onAbort);
      resolve(err);
    });
  });
}

function chunksOf(items: readonly ChannelItem[]): Chunk[] {
  const chunks: Chunk[] = [];
  let parts: string[] = [];
  let size = 0;
  for (const item of items) {
    parts.push(item.line, '\n');
    size += item.line.length + 1;
    if (size >= CHUNK_CHARS) {
      chunks.push({ text: parts.join(''), lines: parts.length / 2 });
      parts = [];
      size = 0;
    }
  }
  if (parts.length > 0) chunks.push({ text: parts.join(''), lines: parts.length / 2 });
  return chunks;
}
