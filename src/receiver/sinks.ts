// Where the receiver puts accepted alerts. A sink's write() resolving is what the ack means:
// an alert is acknowledged only once its sink has accepted it.

import { createWriteStream, type WriteStream } from 'node:fs';
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
}

/** Falco JSON lines to a stream: stdout by default, or a file opened for append. */
export class JsonLinesSink implements Sink {
  private readonly stream: Writable;
  private readonly owned: boolean;
  private readonly writer = new FalcoJsonWriter({ output: true, tags: true, outputFields: true });

  constructor(target: { file: string } | { stream: Writable } = { stream: process.stdout }) {
    if ('file' in target) {
      this.stream = createWriteStream(target.file, { flags: 'a' });
      this.owned = true;
    } else {
      this.stream = target.stream;
      this.owned = false;
    }
  }

  write(alerts: readonly Buffer[]): Promise<void> {
    let text = '';
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

/** Accepts and forgets: for load tests, where only the count matters. */
export class DiscardSink implements Sink {
  count = 0;
  write(alerts: readonly Buffer[]): void {
    this.count += alerts.length;
  }
}
