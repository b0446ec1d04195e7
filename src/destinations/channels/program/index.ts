// `program_output`: alerts written to the stdin of a shell command.

import type { ChannelSpec } from '../spec.js';
import { ProgramChannel } from './program.js';

export interface ProgramOutputOptions {
  /** Run with a shell (`/bin/sh -c`); alerts are written to its stdin, one per line. */
  program: string;
  /** Falco's `keep_alive`: one long-lived process (true) or one process per alert (false, Falco's default). */
  keepAlive?: boolean;
}

export const programChannel: ChannelSpec<'program', ProgramOutputOptions> = {
  type: 'program',
  keys: { program: true, keepAlive: true },
  describe: ({ program }) => `program "${program}"`,
  problem: ({ program }) => (typeof program === 'string' && program.trim() !== '' ? null : 'program is required (a shell command)'),
  open: (options) => new ProgramChannel(options),
};
