// `program_output`: alerts written to the stdin of a shell command, either one long-lived run
// (keep_alive) or one run per alert (Falco's default).

import type { Channel, ChannelItem, DeliveryReport } from '../channel.js';
import type { ProgramOutputOptions } from './index.js';
import { LongLivedProgram } from './program-long-lived.js';
import { ProgramPerAlert } from './program-per-alert.js';

export class ProgramChannel implements Channel {
  private readonly runs: Channel;

  constructor(options: ProgramOutputOptions) {
    if (typeof options.program !== 'string' || options.program.trim() === '') throw new TypeError('program_output: program is empty');
    this.runs = options.keepAlive ? new LongLivedProgram(options.program) : new ProgramPerAlert(options.program);
  }

  deliver(items: readonly ChannelItem[], signal: AbortSignal): Promise<DeliveryReport> {
    return this.runs.deliver(items, signal);
  }

  close(): Promise<void> {
    return this.runs.close();
  }
}
