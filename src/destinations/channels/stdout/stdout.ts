// `stdout_output`: alerts as lines on the process's standard output.
//
// Inside a worker thread, process.stdout is a proxy that posts every chunk to the main thread, which
// would then do the I/O on the host's event loop; so this writes to the fd itself. A slow reader makes
// deliver() take longer (the ring fills, the host drops and counts), never the host wait.

import type { Channel, ChannelItem, DeliveryReport } from '../channel.js';
import type { StdoutOutputOptions } from './index.js';
import { writeLines } from '../shared/fd-write.js';
import { batchReport } from '../shared/report.js';

export class StdoutChannel implements Channel {
  private readonly fd: number;
  private closed = false;

  constructor(options: StdoutOutputOptions = {}) {
    this.fd = options.fd ?? 1;
    if (!Number.isInteger(this.fd) || this.fd < 0) {
      throw new TypeError(`stdout_output: fd must be a file descriptor number (an integer >= 0), got ${String(options.fd)}`);
    }
  }

  async deliver(items: readonly ChannelItem[], signal: AbortSignal): Promise<DeliveryReport> {
    if (items.length === 0) return { delivered: 0, failed: 0 };
    if (this.closed) return batchReport(items.length, 0, `stdout (fd ${this.fd}): output closed`);
    const outcome = await writeLines(this.fd, items, signal);
    return batchReport(items.length, outcome.linesWritten, outcome.error && `write to stdout (fd ${this.fd}): ${outcome.error}`);
  }

  /** The fd belongs to the process, not to this channel: it stays open. */
  async close(): Promise<void> {
    this.closed = true;
  }
}
