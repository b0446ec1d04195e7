// Where the receiver puts accepted alerts. A sink's write() resolving is what the ack means:
// an alert is acknowledged only once its sink has accepted it.

import { closeSync, createWriteStream, fstatSync, openSync, readSync, type WriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { response } from '../gen/falco/outputs/outputs.js';
import { FalcoJsonWriter } from '../codec/falco-json-bytes.js';

/** Decodes one alert's bytes (falco.outputs.response) into its fields. */
export function decodeAlert(bytes: Uint8Array): response {
  return response.decode(bytes);
}

export interface Sink {
  /**
   * Accept a run of alerts from one producer, in order, each as its encoded
   * falco.outputs.response bytes (decodeAlert() gives the fields). Rejecting withholds the ack.
   * Each buffer is a view into its request's bytes: keeping one keeps the whole request in memory.
   */
  write(alerts: readonly Buffer[], producerId: string): void | Promise<void>;
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

/** Falco JSON lines to a stream: stdout by default, or a file opened for append. */
export class JsonLinesSink implements Sink {
  private readonly stream: Writable;
  private readonly owned: boolean;
  private pending = '';
  private readonly writer = new FalcoJsonWriter({ output: true, tags: true, outputFields: true });
  private readonly target: string;

  constructor(target: { file: string } | { stream: Writable } = { stream: process.stdout }) {
    if ('file' in target) {
      // A receiver killed mid-write (SIGKILL, power loss) can leave a torn last line: start on a fresh one.
      this.pending = endsMidLine(target.file) ? '\n' : '';
      this.stream = createWriteStream(target.file, { flags: 'a' });
      this.owned = true;
      this.target = target.file;
    } else {
      this.stream = target.stream;
      this.owned = false;
      this.target = target.stream === process.stdout ? 'stdout' : 'stream';
    }
  }

  status(): SinkStatus {
    return { kind: 'Falco JSON lines', target: this.target, bufferedBytes: this.stream.writableLength };
  }

  write(alerts: readonly Buffer[]): Promise<void> {
    let text = this.pending;
    this.pending = '';
    for (const alert of alerts) text += this.writer.line(alert) + '\n';
    return new Promise((resolve, reject) => {
      this.stream.write(text, (err) => (err ? reject(err) : resolve()));
    });
  }

  close(): Promise<void> {
    if (!this.owned) return new Promise((resolve) => this.stream.write('', () => resolve()));
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
  write(alerts: readonly Buffer[]): void {
    this.count += alerts.length;
  }

  status(): SinkStatus {
    return { kind: 'discard', discarded: this.count };
  }
}
