// Writing a batch of lines to a file descriptor we do not own a stream for (fd 1 seen from a worker
// thread, an O_APPEND file), counting exactly how many whole lines made it.
//
// Synchronous writes on purpose: this runs on the output's own worker thread, so a blocking fd (a
// file on a stalled disk, a blocking pipe with a slow reader) holds up only that thread. An async
// fs.write would instead pin one of libuv's four threadpool threads, which the whole process shares
// (the host's fs calls, dns.lookup, zlib). A non-blocking fd (a pipe once any thread made it
// O_NONBLOCK, as starting a worker does for fd 1) answers EAGAIN when full: we then wait, with the
// event loop free, and try again; Node offers no poll() on a bare fd, so the wait is a short sleep,
// as pino's sonic-boom does.

import { writeSync } from 'node:fs';
import type { ChannelItem } from '../channel.js';
import { sleep } from '../../../common/backoff.js';

const FULL_PIPE_FIRST_WAIT_MS = 1;
const FULL_PIPE_MAX_WAIT_MS = 100;

export interface FdWriteOutcome {
  /** Lines written in full, newline included; the batch's first `linesWritten` items. */
  linesWritten: number;
  /** Why the rest was not written. */
  error?: string;
}

/** Writes the items' lines, each ending in "\n", as one buffer; partial writes continue where they stopped. */
export async function writeLines(fd: number, items: readonly ChannelItem[], signal: AbortSignal): Promise<FdWriteOutcome> {
  const lines = items.map((item) => item.line);
  const bytes = Buffer.from(lines.join('\n') + '\n');
  let offset = 0;
  let wait = FULL_PIPE_FIRST_WAIT_MS;
  while (offset < bytes.length) {
    try {
      offset += writeSync(fd, bytes, offset, bytes.length - offset);
      wait = FULL_PIPE_FIRST_WAIT_MS;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EINTR') continue;
      if (code !== 'EAGAIN') return { linesWritten: linesEndingBy(lines, offset), error: (err as Error).message };
      if (!(await sleep(wait, signal))) {
        return { linesWritten: linesEndingBy(lines, offset), error: 'aborted while the reader was not reading' };
      }
      wait = Math.min(wait * 2, FULL_PIPE_MAX_WAIT_MS);
    }
  }
  return { linesWritten: lines.length };
}

/** How many of `lines`, newline included, lie wholly within the first `byteCount` bytes. */
function linesEndingBy(lines: readonly string[], byteCount: number): number {
  let end = 0;
  for (let i = 0; i < lines.length; i++) {
    end += Buffer.byteLength(lines[i]!) + 1;
    if (end > byteCount) return i;
  }
  return lines.length;
}
