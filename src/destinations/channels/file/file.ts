// `file_output`: alerts appended to a file, one line each.
//
// Falco with keep_alive false opens and closes the file for every alert. Doing it once per batch
// gives the same guarantees (every open sees the file the path names now, so rotation needs no
// signal) at a fraction of the syscalls. With keep_alive true the fd stays open; before each batch
// its inode is compared with the path's, so a file that logrotate renamed or deleted is left behind
// and the path is opened (and created) again; reopen() (SIGHUP) forces that too.

import { closeSync, fstatSync, openSync, statSync } from 'node:fs';
import type { Channel, ChannelItem, DeliveryReport } from '../channel.js';
import type { FileOutputOptions } from './index.js';
import { RetryBackoff } from '../../../common/backoff.js';
import { writeLines } from '../shared/fd-write.js';
import { batchReport } from '../shared/report.js';
import { messageOf } from '../../../common/errors.js';

// After a failed open or write, the next attempt waits this long (doubling): an unwritable path costs
// a few syscalls a second, and the alerts wait in the ring meanwhile rather than being failed at once.
const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 2000;

interface OpenFile {
  fd: number;
  dev: number;
  ino: number;
}

export class FileChannel implements Channel {
  private readonly path: string;
  private readonly keepAlive: boolean;
  private file: OpenFile | null = null;
  private reopenRequested = false;
  private readonly retry = new RetryBackoff(RETRY_MIN_MS, RETRY_MAX_MS);
  private closed = false;

  constructor(options: FileOutputOptions) {
    this.path = options.filename;
    this.keepAlive = options.keepAlive ?? false;
    if (typeof this.path !== 'string' || this.path === '') throw new TypeError('file_output: filename is empty');
  }

  async deliver(items: readonly ChannelItem[], signal: AbortSignal): Promise<DeliveryReport> {
    if (items.length === 0) return { delivered: 0, failed: 0 };
    if (this.closed) return batchReport(items.length, 0, `file ${this.path}: output closed`);
    if (!(await this.retry.ready(signal))) return batchReport(items.length, 0, `file ${this.path}: aborted while waiting to retry`);
    let file: OpenFile;
    try {
      file = this.openCurrent();
    } catch (err) {
      this.retry.failed();
      return batchReport(items.length, 0, `cannot open ${this.path} for appending: ${messageOf(err)}`);
    }
    const outcome = await writeLines(file.fd, items, signal);
    if (outcome.error !== undefined || !this.keepAlive || this.closed) this.release();
    if (outcome.error !== undefined) this.retry.failed();
    else this.retry.reset();
    return batchReport(items.length, outcome.linesWritten, outcome.error && `cannot append to ${this.path}: ${outcome.error}`);
  }

  reopen(): void {
    this.reopenRequested = true;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.release();
  }

  /** The open fd, if it still is the file the path names; otherwise the path opened anew. */
  private openCurrent(): OpenFile {
    if (this.file !== null && (this.reopenRequested || this.rotatedAway(this.file))) this.release();
    this.reopenRequested = false;
    if (this.file === null) {
      const fd = openSync(this.path, 'a');
      const { dev, ino } = fstatSync(fd);
      this.file = { fd, dev, ino };
    }
    return this.file;
  }

  private rotatedAway(file: OpenFile): boolean {
    try {
      const now = statSync(this.path);
      return now.ino !== file.ino || now.dev !== file.dev;
    } catch {
      return true; // deleted (or its directory unreachable): reopening creates it, or says why not
    }
  }

  private release(): void {
    if (this.file === null) return;
    try {
      closeSync(this.file.fd);
    } catch {
      // nothing left to do with an fd that cannot be closed
    }
    this.file = null;
  }
}
