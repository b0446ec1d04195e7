// `file_output`: alerts appended to a file, one line each.

import type { ChannelSpec } from '../spec.js';
import { FileChannel } from './file.js';

export interface FileOutputOptions {
  filename: string;
  /** Falco's `keep_alive`: keep the file open between alerts (true) or open and close it for every batch (false). Default false, as Falco. */
  keepAlive?: boolean;
}

export const fileChannel: ChannelSpec<'file', FileOutputOptions> = {
  type: 'file',
  keys: { filename: true, keepAlive: true },
  describe: ({ filename }) => `file ${filename}`,
  problem: ({ filename }) => (typeof filename === 'string' && filename !== '' ? null : 'filename is required'),
  open: (options) => new FileChannel(options),
};
