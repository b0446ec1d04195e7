// Where the receiver puts accepted alerts. A sink's write() resolving is what the ack means:
// an alert is acknowledged only once its sink has made it durable.

import { closeSync, createWriteStream, fstatSync, openSync, readSync, type WriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { response } from '../gen/falco/outputs/outputs.js';
import { FalcoJsonWriter } from '../codec/falco-json-bytes.js';

/** Decodes one alert's bytes (falco.outputs.response) into its fields. */
export function decodeAlert(bytes: Uint8Array): response {
  return response.decode(bytes);
}

/**
 * A contiguous run of one producer's fresh sequence numbers, [firstSeq, lastSeq], as ingest hands
 * it to a sink: duplicates are already skipped; alerts less severe than the receiver's minPriority
 * are counted in `filtered` and left out of `alerts`, but their sequence numbers stay in the run
 * (they are acknowledged with it).
 */
export interface AlertRun {
  readonly producerId: string;
  readonly firstSeq: number;
  readonly lastSeq: number;
  /**
   * The alerts passed on, in sequence order, each its encoded falco.outputs.response
   * (decodeAlert() gives the fields). Each is a view into its request's bytes: keeping one keeps
   * the whole request in memory, so copy what you keep.
   */
  readonly alerts: readonly Buffer[];
  /** alerts[i]'s Falco priority (0 Emergency ... 7 Debug). */
  readonly priorities: readonly number[];
  /** Sequence numbers in the run that were filtered out (less severe than minPriority). */
  readonly filtered: number;
  /** alerts[i]'s sequence number (firstSeq + i unless some were filtered). */
  seqOf(i: number): number;
}

export interface Sink {
  /**
   * Takes a run. Resolving means the run is durable, and only then is it acknowledged; rejecting
   * withholds the ack (the producer resends after reconnecting). One producer's runs arrive in
   * sequence order; up to `window` of them may be written before the first resolves.
   */
  write(run: AlertRun): void | Promise<void>;
  /**
   * Runs of one producer that may be in flight at once. Default 1: the next run is written only
   * once the previous one resolved, so a failed write is never followed by a later one. A sink
   * with a larger window pipelines (a bus confirming asynchronously) and must tolerate a run
   * written again after an earlier one failed (dedupe by producer and sequence number).
   */
  readonly window?: number;
  /** Flush and release; called once when the receiver stops. */
  close?(): Promise<void>;
  /** What the sink is and how it fares, for the web console (a JetStream sink: its stream's state). */
  status?(): SinkStatus;
}

/** A sink's own description: `kind` and whatever else it can tell, as plain values. */
export interface SinkStatus {
  kind: string;
  [detail: string]: string | number | boolean;
}

/**
 * Falco JSON lines to a stream: stdout by default, or a file opened for append. A failed write
 * (ENOSPC, EIO) rejects, so nothing is acked; for a file the next write reopens it, so writing
 * resumes by itself once the disk has room again.
 */
export class JsonLinesSink implements Sink {
  private stream: Writable;
  private readonly file: string | null;
  /** The stream's error, once it failed: a file is reopened on the next write. */
  private failed: Error | null = null;
  private pending = '';
  private readonly writer = new FalcoJsonWriter({ output: true, tags: true, outputFields: true });
  private readonly onError = (err: Error): void => {
    this.failed = err; // the write's callback carries it to the ack; here it must only not crash the process
  };

  constructor(target: { file: string } | { stream: Writable } = { stream: process.stdout }) {
    if ('file' in target) {
      this.file = target.file;
      this.stream = this.open(target.file);
    } else {
      this.file = null;
      this.stream = target.stream;
      this.stream.on('error', this.onError);
    }
  }

  private open(file: string): WriteStream {
    // A receiver killed mid-write (SIGKILL, power loss, a full disk) can leave a torn last line: start on a fresh one.
    this.pending = endsMidLine(file) ? '\n' : '';
    const stream = createWriteStream(file, { flags: 'a' });
    stream.on('error', this.onError);
    return stream;
  }

  status(): SinkStatus {
    const target = this.file ?? (this.stream === process.stdout ? 'stdout' : 'stream');
    return { kind: 'Falco JSON lines', target, bufferedBytes: this.stream.writableLength, ...(this.failed ? { error: this.failed.message } : {}) };
  }

  write(run: AlertRun): Promise<void> {
    if (this.failed && this.file !== null) {
      this.stream.destroy();
      this.failed = null;
      this.stream = this.open(this.file);
    }
    let text = this.pending;
    this.pending = '';
    for (const alert of run.alerts) text += this.writer.line(alert) + '\n';
    const stream = this.stream;
    return new Promise((resolve, reject) => {
      // A write queued behind the one that failed is refused as ERR_STREAM_DESTROYED: the cause is the stream's own error (ENOSPC).
      stream.write(text, (err) => (err ? reject(stream.errored ?? err) : resolve()));
    });
  }

  close(): Promise<void> {
    if (this.file === null) return new Promise((resolve) => this.stream.write('', () => resolve()));
    if (this.failed) {
      this.stream.destroy();
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => (this.stream as WriteStream).end((err?: Error | null) => (err ? reject(err) : resolve())));
  }
}

/** True when the file exists and its last byte is not a newline. */
function endsMidLine(file: string): boolean {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return false; // not there yet: it will be created
  }
  try {
    const size = fstatSync(fd).size;
    if (size === 0) return false;
    const last = Buffer.alloc(1);
    readSync(fd, last, 0, 1, size - 1);
    return last[0] !== 0x0a;
  } finally {
    closeSync(fd);
  }
}

/** Accepts and forgets: for load tests, where only the count matters. */
export class DiscardSink implements Sink {
  count = 0;
  write(run: AlertRun): void {
    this.count += run.alerts.length;
  }

  status(): SinkStatus {
    return { kind: 'discard', discarded: this.count };
  }
}
