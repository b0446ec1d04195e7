// One process per spool directory. Two writers would interleave their segments and acks, so the
// second one is refused with the pid of the first. The lock is a file holding the owner's pid: one
// left behind by a process that died (SIGKILL, a crash) names a pid that no longer runs, and the
// next process takes it over. Taken on the host thread when the output is built, so that a refusal
// is an exception from the constructor, not a line in a log later.

import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { LOCK_FILE } from './format.js';
import type { LogFn } from '../common/log.js';

/** Directories this process holds: two outputs of one process on one directory are refused too. */
const held = new Set<string>();

export interface SpoolLock {
  readonly dir: string;
  /** Removes the lock file (idempotent). */
  release(): void;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // alive, someone else's
  }
}

function ownerOf(path: string): number | null {
  try {
    const pid = Number(readFileSync(path, 'utf8').trim());
    return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/** Creates the directory if needed and takes its lock; throws a message naming the directory when it cannot. */
export function lockSpool(who: string, dirOption: string, log: LogFn): SpoolLock {
  const dir = resolve(dirOption);
  if (held.has(dir)) throw new Error(`${who}: spool.dir ${dir} is already used by another output of this process; give each output its own directory`);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new Error(`${who}: spool.dir ${dir} cannot be created: ${errorText(err)}`);
  }
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o644);
      try {
        writeSync(fd, `${process.pid}\n`);
      } finally {
        closeSync(fd);
      }
      break;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST' || attempt > 0) throw new Error(`${who}: spool.dir ${dir} is not writable: ${errorText(err)}`);
      const pid = ownerOf(path);
      // Our own pid in a lock we do not hold: a previous process that had the same pid (containers).
      if (pid !== null && pid !== process.pid && running(pid)) {
        throw new Error(`${who}: spool.dir ${dir} is in use by process ${pid} (lock file ${path}); one process per spool directory`);
      }
      log(`falco-grpc-output: spool ${dir}: taking over the lock of ${pid === null ? 'an unreadable lock file' : `process ${pid}, which is gone`}`);
      try {
        unlinkSync(path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`${who}: spool.dir ${dir} is not writable: ${errorText(e)}`);
      }
    }
  }
  held.add(dir);
  let released = false;
  return {
    dir,
    release() {
      if (released) return;
      released = true;
      held.delete(dir);
      try {
        if (ownerOf(path) === process.pid) unlinkSync(path);
      } catch {
        // gone already: nothing to release
      }
    },
  };
}
