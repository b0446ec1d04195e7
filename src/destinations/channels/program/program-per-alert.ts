// `program_output` without keep_alive (Falco's default): one run of the program per alert, as Falco's
// popen/fputs/pclose does, one after the other so that alerts keep their order.
//
// An alert is delivered when its run exits with status 0; a non-zero status, a signal or a failed start
// fails it, since the exit status is all a per-alert program can say about that alert. Whether the
// program read its input does not matter (a program may exit 0 without reading).

import type { Channel, ChannelItem, DeliveryReport } from '../channel.js';
import { batchReport } from '../shared/report.js';
import { describeExit, ShellProcess, type ExitStatus } from './shell-process.js';

export class ProgramPerAlert implements Channel {
  private current: ShellProcess | null = null;
  private readonly closing = new AbortController();
  private closed: Promise<void> | null = null;

  constructor(private readonly program: string) {}

  async deliver(items: readonly ChannelItem[], hostSignal: AbortSignal): Promise<DeliveryReport> {
    const signal = AbortSignal.any([hostSignal, this.closing.signal]);
    let delivered = 0;
    let lastError: string | undefined;
    for (const item of items) {
      if (signal.aborted) return batchReport(items.length, delivered, this.failure(this.closed ? 'output closed' : 'aborted'));
      const status = await this.runOnce(item.line, signal);
      if (status.code === 0) {
        delivered++;
        continue;
      }
      lastError = this.failure(describeExit(status));
      // No shell could be started (EAGAIN, EMFILE, ...): do not try again for every alert of the batch.
      if (status.spawnError !== undefined) break;
    }
    // Counts every alert not delivered as failed, including those after a break.
    return batchReport(items.length, delivered, lastError);
  }

  close(): Promise<void> {
    this.closed ??= (async () => {
      this.closing.abort();
      if (this.current !== null) await this.current.stop();
    })();
    return this.closed;
  }

  /** One run with `line` as its whole input; a run outliving an abort is stopped. */
  private async runOnce(line: string, signal: AbortSignal): Promise<ExitStatus> {
    const proc = new ShellProcess(this.program);
    this.current = proc;
    proc.endInput(line + '\n');
    const onAbort = (): void => void proc.stop();
    signal.addEventListener('abort', onAbort, { once: true });
    const status = await proc.exited;
    signal.removeEventListener('abort', onAbort);
    this.current = null;
    return status;
  }

  private failure(reason: string): string {
    return `program_output "${this.program}": ${reason}`;
  }
}
