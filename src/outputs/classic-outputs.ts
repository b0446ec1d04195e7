// One classic output: its own ring and worker thread, draining into a channel of the registry
// (src/destinations/channels/registry.ts). Each named factory is the same function on another spec.

import { positive } from '../common/check.js';
import type { FormatOptions } from '../codec/format.js';
import type { Output, QueueOptions } from '../host/output.js';
import { resolveQueue } from '../host/queue-options.js';
import { RingOutput } from '../host/ring-output.js';
import { CHANNELS, specOf, type ChannelConfig, type ChannelOptions, type ChannelType } from '../destinations/channels/registry.js';
import { channelOptions } from '../destinations/channels/spec.js';

export interface ClassicOutputOptions extends QueueOptions {
  /** json_output and json_include_*: how each alert becomes a line. Default: Falco's JSON with every property. */
  format?: FormatOptions;
  /** Most alerts handed to the channel at once. Default 1024. */
  batchAlerts?: number;
}

/** A classic output on its own ring and worker thread; throws before any thread starts when an option is wrong. */
export function createChannelOutput(channel: ChannelConfig, options: ClassicOutputOptions = {}): RingOutput {
  const who = `${channel.type} output`;
  const { spec, options: own } = specOf(channel);
  const problem = spec.problem(own);
  if (problem !== null) throw new TypeError(`${who}: ${problem}`);
  // createOutputs() gives each channel its own spool directory inside the channel's settings.
  const spool = (channel.options as QueueOptions).spool ?? options.spool;
  return new RingOutput(spec.describe(own), resolveQueue(who, { ...options, spool }), {
    kind: 'channel',
    channel: { type: channel.type, options: channelOptions(spec.keys, own) } as ChannelConfig,
    format: options.format ?? {},
    batchAlerts: positive(who, 'batchAlerts', options.batchAlerts, 1024),
  });
}

/** The factory of one channel type: its options and the shared ones in one object. */
function factory<T extends ChannelType>(type: T): (options: ChannelOptions<T> & ClassicOutputOptions) => Output {
  return (options) => createChannelOutput({ type, options } as ChannelConfig, options);
}

export const createStdoutOutput: (options?: ChannelOptions<'stdout'> & ClassicOutputOptions) => Output = (options = {}) =>
  factory('stdout')(options);
export const createFileOutput = factory('file');
export const createProgramOutput = factory('program');
export const createSyslogOutput: (options?: ChannelOptions<'syslog'> & ClassicOutputOptions) => Output = (options = {}) =>
  factory('syslog')(options);
export const createHttpOutput = factory('http');

/** Every channel type, in the registry's order. */
export const CHANNEL_TYPES = Object.keys(CHANNELS) as ChannelType[];
