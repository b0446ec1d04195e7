// Where the receiver puts accepted alerts. A sink's write() resolving is what the ack means:
// an alert is acknowledged only once its sink has accepted it.

import { createWriteStream, type WriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import type { response } from '../gen/falco/outputs/outputs.js';
import { toFalcoJsonLine } from '../codec/falco-json.js';

export interface Sink {
  /** Accept a run of alerts from one producer, in order. Rejecting withholds the ack. */
  write(alerts: readonly response[], producerId: string): void | Promise<void>;
  /** Flush and release; called once when the receiver stops. */
  close?(): Promise<void>;
}

/** Falco JSON lines to a stream: stdout by default, or a file opened for append. */
export class JsonLinesSink implements Sink {
  private readonly stream: Writable;
  private readonly owned: boolean;

  constructor(target: { file: string } | { stream: Writable } = { stream: process.stdout }) {
    if ('file' in target) {
      this.stream = createWriteStream(target.file, { flags: 'a' });
      this.owned = true;
    } else {
      this.stream = target.stream;
      this.owned = false;
    }
  }

  write(alerts: readonly response[]): Promise<void> {
    let text = '';
    for (const alert of alerts) text += toFalcoJsonLine(alert) + '\n';
    return new Promise((resolve, reject) => {
      this.stream.write(text, (err) => (err ? reject(err) : resolve()));
    });
  }

  close(): Promise<void> {
    if (!this.owned) return new Promise((resolve) => this.stream.write('', () => resolve()));
    return new Promise((resolve, reject) => (this.stream as WriteStream).end((err?: Error | null) => (err ? reject(err) : resolve())));
  }
}

/** Accepts and forgets: for load tests, where only the count matters. */
export class DiscardSink implements Sink {
  count = 0;
  write(alerts: readonly response[]): void {
    this.count += alerts.length;
  }
}
