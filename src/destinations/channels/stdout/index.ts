// `stdout_output`: alerts as lines on this process's standard output.

import type { ChannelSpec } from '../spec.js';
import { StdoutChannel } from './stdout.js';

export interface StdoutOutputOptions {
  /** File descriptor to write to; default 1. Tests may pass another. */
  fd?: number;
}

export const stdoutChannel: ChannelSpec<'stdout', StdoutOutputOptions> = {
  type: 'stdout',
  keys: { fd: true },
  describe: ({ fd }) => (fd === undefined || fd === 1 ? 'stdout' : `stdout fd ${fd}`),
  problem: () => null,
  open: (options) => new StdoutChannel(options),
};
