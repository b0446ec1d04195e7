// Every classic output channel, by name. A new channel is a folder with its ChannelSpec and one
// line here; createOutputs(), the worker and the option types all follow from this list.

import type { Channel, DeliveryReport } from './channel.js';
import type { ChannelSpec } from './spec.js';
import { stdoutChannel } from './stdout/index.js';
import { fileChannel } from './file/index.js';
import { programChannel } from './program/index.js';
import { syslogChannel } from './syslog/index.js';
import { httpChannel } from './http/index.js';

export const CHANNELS = {
  stdout: stdoutChannel,
  file: fileChannel,
  program: programChannel,
  syslog: syslogChannel,
  http: httpChannel,
} as const;

export type ChannelType = keyof typeof CHANNELS;
/** The options of one channel type. */
export type ChannelOptions<T extends ChannelType> = (typeof CHANNELS)[T] extends ChannelSpec<T, infer O> ? O : never;
/** Plain cloneable data naming a channel and its options: what a worker is started with. */
export type ChannelConfig = { [T in ChannelType]: { type: T; options: ChannelOptions<T> } }[ChannelType];

/** The spec of a config's channel, with its options, typed together. */
export function specOf(config: ChannelConfig): { spec: ChannelSpec<string, object>; options: object } {
  return { spec: CHANNELS[config.type] as ChannelSpec<string, object>, options: config.options };
}

export function createChannel(config: ChannelConfig): Channel {
  const { spec, options } = specOf(config);
  try {
    return spec.open(options);
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
