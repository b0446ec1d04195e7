// What a classic output channel registers (src/destinations/channels/registry.ts): its options'
// keys, how it is named and checked on the host before a thread starts, and how its worker opens it.
// Adding a channel is a folder with a ChannelSpec and one line in the registry.

import type { Channel } from './channel.js';

/**
 * Every option key of O, required by the type: the host copies a channel's options by this list,
 * so an option added to O and forgotten here is a compile error, not a silently dropped setting.
 */
export type KeyList<O> = { readonly [K in keyof Required<O>]: true };

export interface ChannelSpec<T extends string, O extends object> {
  /** The option's name in createOutputs() and in messages: "file". */
  readonly type: T;
  readonly keys: KeyList<O>;
  /** What it writes to, for messages and metrics: "file /var/log/falco.json". */
  describe(options: O): string;
  /** What is wrong with the options, checked on the host before the thread starts; null when fine. */
  problem(options: O): string | null;
  /** Worker side: the channel itself. May throw; the worker then fails alerts with the reason. */
  open(options: O): Channel;
}

/** Only the keys the spec lists, and only those set: the rest (ring options, format) stay on the host. */
export function channelOptions<O extends object>(keys: KeyList<O>, options: O): O {
  const out: Partial<O> = {};
  for (const key of Object.keys(keys) as (keyof O)[]) if (options[key] !== undefined) out[key] = options[key];
  return out as O;
}
