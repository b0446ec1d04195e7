// Follows a file as `tail -F` does: its lines as they are appended, through rotation (the path
// renamed or removed and a new file created there) and truncation, until told to stop.

import { open, stat, type FileHandle } from 'node:fs/promises';
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';

export interface FollowedLine {
  /** The followed path, as given. */
  file: string;
  /** 1-based, counted from the start of the file now at the path (restarts after rotation or truncation). */
  lineNo: number;
  /** The line without its newline (a trailing \r is dropped too). */
  text: string;
}

export interface FollowFileOptions {
  /** Skip the complete lines already in the file at start (tail -F -n 0). Default false: read them first. */
  fromEnd?: boolean;
  /** How often to stat the path even without a watch event; fs.watch misses renames on some filesystems. Default 250 ms. */
  pollMs?: number;
  /** Ends the iteration after one last read to the end of the current file. */
  signal?: AbortSignal;
  /** Rotation, truncation, a missing file: what a person watching would want to know. */
  onNotice?: (message: string) => void;
}

const CHUNK_BYTES = 64 * 1024;
const NEWLINE = 0x0a;

/** The file now open: where we are in it and which inode it is, to tell a rotation. */
interface OpenFile {
  handle: FileHandle;
  dev: number;
  ino: number;
  position: number;
  /** Complete lines consumed so far. */
  lineNo: number;
  /** Bytes after the last newline, waiting for theirs. */
  partial: Buffer | null;
}

/** One pending wait that a watch event, the poll timer or the stop signal ends, whichever comes first. */
class Wakeup {
  private pending = false;
  private release: (() => void) | null = null;

  wake = (): void => {
    if (this.release) this.release();
    else this.pending = true;
  };

  wait(ms: number): Promise<void> {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.release?.(), ms);
      this.release = () => {
        clearTimeout(timer);
        this.release = null;
        resolve();
      };
    });
  }
}

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

async function openAt(path: string): Promise<OpenFile | null> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    if (isMissing(err)) return null;
    throw err;
  }
  const st = await handle.stat();
  return { handle, dev: st.dev, ino: st.ino, position: 0, lineNo: 0, partial: null };
}

/**
 * Watches the directory, not the file: a watch on the file follows its inode through a rename
 * and never hears of the new file at the path. Returns null where watching is not possible;
 * the poll still covers everything, only later.
 */
function watchPath(path: string, onEvent: () => void): FSWatcher | null {
  const name = basename(path);
  try {
    const watcher = watch(dirname(path), { persistent: false }, (_event, filename) => {
      if (filename === null || filename === name) onEvent();
    });
    watcher.on('error', () => watcher.close());
    return watcher;
  } catch {
    return null;
  }
}

/** Reads `file` from its position to its current end, yielding complete lines (none while `skip`). */
async function* readToEnd(path: string, file: OpenFile, chunk: Buffer, skip: boolean): AsyncGenerator<FollowedLine> {
  for (;;) {
    const { bytesRead } = await file.handle.read(chunk, 0, chunk.length, file.position);
    if (bytesRead === 0) return;
    file.position += bytesRead;
    const data = chunk.subarray(0, bytesRead);
    let start = 0;
    for (let nl = data.indexOf(NEWLINE); nl !== -1; nl = data.indexOf(NEWLINE, start)) {
      const piece = data.subarray(start, nl);
      const line = file.partial ? Buffer.concat([file.partial, piece]) : piece;
      file.partial = null;
      file.lineNo++;
      start = nl + 1;
      if (!skip) yield { file: path, lineNo: file.lineNo, text: lineText(line) };
    }
    // The chunk buffer is reused: keep a copy of the unfinished line.
    if (start < bytesRead) {
      const rest = Buffer.from(data.subarray(start));
      file.partial = file.partial ? Buffer.concat([file.partial, rest]) : rest;
    }
  }
}

function lineText(line: Buffer): string {
  const end = line.length > 0 && line[line.length - 1] === 0x0d ? line.length - 1 : line.length;
  return line.toString('utf8', 0, end);
}

/** The inode now at the path, or null when nothing is there. */
async function inodeAt(path: string): Promise<{ dev: number; ino: number } | null> {
  try {
    const st = await stat(path);
    return { dev: st.dev, ino: st.ino };
  } catch (err) {
    if (isMissing(err)) return null;
    throw err;
  }
}

/**
 * The lines of `path`, as they are written, until `signal` aborts. A rotated-away file is read
 * to its end (its unfinished last line included: its writer has moved on) before the new file
 * is read from its start; a file shorter than what was read is read again from its start.
 * A truncation is noticed by size, so a file that grows past the old position between two
 * checks looks like an append (tail -F has the same blind spot).
 */
export async function* followFile(path: string, options: FollowFileOptions = {}): AsyncGenerator<FollowedLine> {
  const pollMs = options.pollMs ?? 250;
  const notice = options.onNotice ?? (() => {});
  const { signal } = options;
  const wakeup = new Wakeup();
  const watcher = watchPath(path, wakeup.wake);
  signal?.addEventListener('abort', wakeup.wake);
  const chunk = Buffer.allocUnsafe(CHUNK_BYTES);
  let file = await openAt(path);
  if (!file) notice(`${path}: no such file yet; waiting for it to appear`);
  // Only the file present at start is skipped: one that appears later is new, all of it.
  let skip = options.fromEnd === true && file !== null;
  let gone = false;
  let caughtUp = false;
  try {
    for (;;) {
      if (file) {
        yield* readToEnd(path, file, chunk, skip);
        if (!caughtUp) notice(`${path}: ${skip ? 'skipped' : 'read'} to its end (line ${file.lineNo}); following`);
        caughtUp = true;
        skip = false;
      }
      if (signal?.aborted) break;
      if (!file) {
        file = await openAt(path);
        if (file) {
          notice(`${path}: has appeared; reading it from the start`);
          continue;
        }
      } else {
        const { size } = await file.handle.stat();
        if (size < file.position) {
          notice(`${path}: truncated; reading it again from the start`);
          Object.assign(file, { position: 0, lineNo: 0, partial: null });
          continue;
        }
        const now = await inodeAt(path);
        if (now && (now.dev !== file.dev || now.ino !== file.ino)) {
          // What the writer put in the old file since the last read comes first.
          yield* readToEnd(path, file, chunk, false);
          if (file.partial) yield { file: path, lineNo: ++file.lineNo, text: lineText(file.partial) };
          await file.handle.close();
          file = await openAt(path);
          gone = false;
          notice(`${path}: rotated; ${file ? 'reading the new file from the start' : 'waiting for the new file'}`);
          continue;
        }
        if (!now && !gone) notice(`${path}: renamed or removed; still reading the old file until a new one appears`);
        gone = now === null;
      }
      await wakeup.wait(pollMs);
    }
    if (file?.partial) notice(`${path}:${file.lineNo + 1}: ${file.partial.length} byte(s) of an unfinished line left unread`);
  } finally {
    watcher?.close();
    signal?.removeEventListener('abort', wakeup.wake);
    await file?.handle.close();
  }
}
