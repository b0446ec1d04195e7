// One output's worker thread, kept alive for the output's whole life. A thread that dies (an
// uncaught error, terminate(), a throw while its module loads) is replaced whenever it dies:
// at once the first time, then after a growing delay while replacements keep dying without
// moving the ring on; after MAX_FRUITLESS_DEATHS such deaths in a row it gives up and says why.
//
// Not piscina: its pool stops replacing a thread that dies before it reported ready (the
// "fails during bootstrap" rule, which also catches a replacement killed while it loads), and
// replaces every other dead thread at once with no backoff. An output needs neither rule.

import { Worker } from 'node:worker_threads';
import { backoffDelay } from '../common/backoff.js';
import { errorText } from '../common/errors.js';
import type { OutputWorkerData, OutputWorkerTask, WorkerReport, WorkerRequest } from '../worker/contract.js';

/** Deaths in a row, with no progress between them, after which the output stops replacing its thread. */
export const MAX_FRUITLESS_DEATHS = 8;
/** Delays between replacements of a thread that keeps dying: the first one is immediate. */
const RESTART_BACKOFF = { baseMs: 100, capMs: 5000 };

export interface OutputThreadEvents {
  /** A report from the worker (its last error, a log line). */
  report(message: WorkerReport): void;
  /** The thread died; `next` says what happens now. */
  died(why: string, next: { restartInMs: number } | { gaveUp: true }): void;
}

export class OutputThread {
  private worker: Worker | null = null;
  private stopped = false;
  private restartTimer: NodeJS.Timeout | null = null;
  /** Threads started, the first included. */
  starts = 0;
  /** Deaths since the ring last moved on. */
  private fruitless = 0;
  private progressAtStart = 0;
  private why = '';
  private nextRequest = 0;
  private readonly waiting = new Map<number, { resolve(): void; reject(err: Error): void }>();
  /** Set once the thread was given up on: the last death's reason and how many there were. */
  gaveUp: string | null = null;

  constructor(
    private readonly file: URL,
    private readonly data: OutputWorkerData,
    /** Any number that grows while the worker does its job (alerts sent plus acked). */
    private readonly progress: () => number,
    private readonly events: OutputThreadEvents,
  ) {
    this.start();
  }

  /** The live thread, if any (for tests that inject a crash). */
  get threads(): readonly Worker[] {
    return this.worker ? [this.worker] : [];
  }

  get alive(): boolean {
    return this.worker !== null;
  }

  /** Runs a task on the worker; rejects if there is no thread or it dies before answering. */
  request(task: OutputWorkerTask): Promise<void> {
    const worker = this.worker;
    if (!worker) return Promise.reject(new Error(this.gaveUp ?? 'the worker thread is not running'));
    const id = ++this.nextRequest;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      const request: WorkerRequest = { id, task };
      worker.postMessage(request);
    });
  }

  /** No more replacements; the thread is terminated. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const worker = this.worker;
    this.worker = null;
    if (worker) await worker.terminate();
    this.failWaiting('the output is closed');
  }

  private start(): void {
    this.restartTimer = null;
    if (this.stopped) return;
    this.starts++;
    this.progressAtStart = this.progress();
    this.why = '';
    const worker = new Worker(this.file, { workerData: this.data });
    this.worker = worker;
    worker.on('message', (message: WorkerReport) => {
      if (message.kind === 'done') {
        const waiter = this.waiting.get(message.id);
        this.waiting.delete(message.id);
        if (message.error === undefined) waiter?.resolve();
        else waiter?.reject(new Error(message.error));
      } else {
        this.events.report(message);
      }
    });
    worker.on('error', (err) => {
      this.why = errorText(err);
    });
    worker.on('exit', (code) => this.onExit(worker, code));
    // The thread never keeps the host process alive: the exit hook bounds what is still owed.
    // After the listeners: adding a 'message' listener refs the thread again.
    worker.unref();
  }

  private onExit(worker: Worker, code: number): void {
    if (this.worker !== worker) return; // stopped on purpose
    this.worker = null;
    const why = this.why || `exited with code ${code}`;
    this.failWaiting(`the worker thread died: ${why}`);
    if (this.stopped) return;
    this.fruitless = this.progress() === this.progressAtStart ? this.fruitless + 1 : 1;
    if (this.fruitless >= MAX_FRUITLESS_DEATHS) {
      this.gaveUp = `the worker thread died ${this.fruitless} times in a row without delivering anything (last: ${why}); not restarted`;
      this.events.died(why, { gaveUp: true });
      return;
    }
    const restartInMs = this.fruitless <= 1 ? 0 : Math.round(backoffDelay(this.fruitless - 1, RESTART_BACKOFF));
    this.events.died(why, { restartInMs });
    this.restartTimer = setTimeout(() => this.start(), restartInMs);
    this.restartTimer.unref();
  }

  private failWaiting(why: string): void {
    for (const waiter of this.waiting.values()) waiter.reject(new Error(why));
    this.waiting.clear();
  }
}
