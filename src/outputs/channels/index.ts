// Which channel a classic output's worker runs, from plain cloneable config.

import type { Channel, DeliveryReport } from '../channel.js';
import type { FileOutputOptions, HttpOutputOptions, ProgramOutputOptions, StdoutOutputOptions, SyslogOutputOptions } from '../types.js';
import { StdoutChannel } from './stdout.js';
import { FileChannel } from './file.js';
import { ProgramChannel } from './program.js';
import { SyslogChannel } from './syslog.js';
import { HttpChannel } from './http.js';

export type ChannelConfig =
  | { type: 'stdout'; options: StdoutOutputOptions }
  | { type: 'file'; options: FileOutputOptions }
  | { type: 'program'; options: ProgramOutputOptions }
  | { type: 'syslog'; options: SyslogOutputOptions }
  | { type: 'http'; options: HttpOutputOptions };

export type ChannelType = ChannelConfig['type'];

export function createChannel(config: ChannelConfig): Channel {
  try {
    switch (config.type) {
      case 'stdout':
        return new StdoutChannel(config.options);
      case 'file':
        return new FileChannel(config.options);
      case 'program':
        return new ProgramChannel(config.options);
      case 'syslog':
        return new SyslogChannel(config.options);
      case 'http':
        return new HttpChannel(config.options);
    }
  } catch (err) {
    // Thrown here, in the worker, it would crash every replacement thread in turn: fail alerts instead.
    return new BrokenChannel(`${config.type} output cannot start: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** A channel that could not be built: every alert fails with the reason, which stats().lastError shows. */
class BrokenChannel implements Channel {
  constructor(private readonly reason: string) {}
  deliver(items: readonly unknown[]): Promise<DeliveryReport> {
    return Promise.resolve({ delivered: 0, failed: items.length, error: this.reason });
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}
