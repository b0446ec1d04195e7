// One run of a `program_output` command: `/bin/sh -c program` with alerts on its stdin, its stdout
// and stderr shared with ours (as Falco's popen() does). Never throws: a spawn that fails is a process
// that exited at once, with the reason.

import { spawn, type ChildProcess } from 'node:child_process';
import { messageOf } from '../../../common/errors.js';

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the process could not be started at all. */
  spawnError?: string;
}

// close(): the program gets end-of-input and this long to finish on its own, then SIGTERM and as long
// again, then SIGKILL.
const STOP_GRACE_MS = 1000;

export class ShellProcess {
  readonly startedAt = performance.now();
  /** Resolves once the process has exited (or failed to start); never rejects. */
  readonly exited: Promise<ExitStatus>;
  private status: ExitStatus | null = null;
  private readonly child: ChildProcess | null;

  constructor(program: string) {
    let child: ChildProcess | null = null;
    let settle: (status: ExitStatus) => void = () => {};
    this.exited = new Promise((resolve) => (settle = resolve));
    const finish = (status: ExitStatus): void => {
      if (this.status !== null) return;
      this.status = status;
      settle(status);
    };
    try {
      // Its own process group, so that stopping it also stops what the shell started (pipelines).
      child = spawn('/bin/sh', ['-c', program], { stdio: ['pipe', 'inherit', 'inherit'], detached: true });
      child.on('exit', (code, signal) => finish({ code, signal }));
      child.on('error', (err) => {
        if (child?.pid === undefined) finish({ code: null, signal: null, spawnError: err.message });
      });
      // A write to a program that exited fails with EPIPE: the write's callback reports it.
      child.stdin?.on('error', () => {});
    } catch (err) {
      finish({ code: null, signal: null, spawnError: messageOf(err) });
    }
    this.child = child;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get alive(): boolean {
    return this.status === null;
  }

  /** Resolves once the data is in the program's stdin pipe: null, or the error when it could not be. */
  write(data: string): Promise<Error | null> {
    const stdin = this.child?.stdin;
    if (!stdin || !stdin.writable) return Promise.resolve(new Error('its input is closed'));
    return new Promise((resolve) => stdin.write(data, (err) => resolve(err ?? null)));
  }

  /** Writes the last data and closes stdin: the program sees end-of-input after it. */
  endInput(data?: string): void {
    const stdin = this.child?.stdin;
    if (stdin && stdin.writable) stdin.end(data);
  }

  /** Ends it: end-of-input, then SIGTERM, then SIGKILL, each after a grace; resolves once it has exited. */
  async stop(): Promise<ExitStatus> {
    this.endInput();
    for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
      if (await this.exitsWithin(STOP_GRACE_MS)) break;
      this.signalGroup(signal);
    }
    return this.exited;
  }

  private exitsWithin(ms: number): Promise<boolean> {
    if (this.status !== null) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      void this.exited.then(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  private signalGroup(signal: NodeJS.Signals): void {
    const pid = this.child?.pid;
    if (pid === undefined || this.status !== null) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // the group is already gone
    }
  }
}

/** Says why a run ended, for an error string: "exited with code 127 (command not found)". */
export function describeExit(status: ExitStatus): string {
  if (status.spawnError !== undefined) return `could not be started: ${status.spawnError}`;
  if (status.signal !== null) return `was killed by ${status.signal}`;
  const meaning = status.code === 127 ? ' (command not found)' : status.code === 126 ? ' (not executable)' : '';
  return `exited with code ${String(status.code)}${meaning}`;
}

/** The shell's own verdict that the command could not be run at all (POSIX 126/127) or no shell started. */
export function couldNotRun(status: ExitStatus): boolean {
  return status.spawnError !== undefined || status.code === 126 || status.code === 127;
}
