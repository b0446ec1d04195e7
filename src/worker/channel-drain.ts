// The worker-side loop of a classic output: reads records from its source (the ring, or the spool
// behind it), decodes and formats them, hands each batch to the channel, and settles them once the
// channel has delivered or given up on them. Like the gRPC sender it never blocks its thread:
// waits are Atomics.waitAsync.

import { parentPort } from 'node:worker_threads';
import type { RecordSource } from '../ring/record-source.js';
import type { Channel, ChannelItem, DeliveryReport } from '../destinations/channels/channel.js';
import { formatterFor, type Formatter } from '../codec/format.js';
import { response } from '../gen/falco/outputs/outputs.js';
import type { FormatOptions } from '../codec/format.js';
import type { WorkerReport } from './contract.js';
import { backoffDelay, sleep } from '../common/backoff.js';

/** How long an idle drain sleeps before checking for close on its own. */
const IDLE_WAIT_MS = 1000;
/** How often a delivery in progress checks whether the host is closing (to stop retries). */
const CLOSE_CHECK_MS = 100;

export class ChannelDrain {
  private readonly format: Formatter;
  private readonly abort = new AbortController();
  private failing = false;
  /** Spool only: failed attempts in a row at the batch waiting in the spool. */
  private retries = 0;

  constructor(
    private readonly ring: RecordSource,
    private readonly channel: Channel,
    format: FormatOptions,
    private readonly batchAlerts: number,
  ) {
    this.format = formatterFor(format);
  }

  reopen(): void {
    this.channel.reopen?.();
  }

  async run(): Promise<void> {
    this.ring.setConnectionState('ready');
    // The host closes only after its flush timed out or completed: retries would outlive it.
    const closeWatch = setInterval(() => {
      if (this.ring.closing()) this.abort.abort();
    }, CLOSE_CHECK_MS);
    try {
      for (;;) {
        // A spool keeps what is not delivered for the next process: closing, nothing more is tried.
        if (this.ring.durable && this.ring.closing()) break;
        const { items, unreadable, lastSeq } = this.readBatch();
        if (items.length + unreadable.count > 0) {
          const report = items.length > 0 ? await this.deliver(items) : { delivered: 0, failed: 0 };
          // Failures of a delivery cut short by close stay in the spool, not given up.
          if (this.ring.durable && report.failed > 0 && this.abort.signal.aborted) break;
          // With a spool, a batch the channel could not deliver at all waits on disk and is tried
          // again, as the gRPC sender does after a reconnect, instead of being given up.
          if (this.ring.durable && report.failed === items.length && unreadable.count === 0) {
            await this.retryLater(report);
            continue;
          }
          if (unreadable.count > 0) {
            report.failed += unreadable.count;
            report.error = unreadable.error;
          }
          this.settle(items.length + unreadable.count, lastSeq, report);
        } else if (this.ring.closing()) {
          break;
        } else {
          await this.ring.waitForData(IDLE_WAIT_MS);
        }
      }
    } finally {
      clearInterval(closeWatch);
      await this.channel.close();
      this.ring.setConnectionState('closed');
    }
  }

  /**
   * The next records as items. One that cannot be formatted is counted, not delivered: thrown out
   * of here it would crash the thread, and every replacement would meet the same record again.
   */
  private readBatch(): { items: ChannelItem[]; unreadable: { count: number; error?: string }; lastSeq: number } {
    const items: ChannelItem[] = [];
    const unreadable: { count: number; error?: string } = { count: 0 };
    let lastSeq = 0;
    while (items.length + unreadable.count < this.batchAlerts) {
      const record = this.ring.read();
      if (record === null) break;
      lastSeq = record.seq;
      // Formatted in place: the writer reads the shared memory (or a spool's chunk) through a Buffer view.
      const bytes = record.data.subarray(record.offset, record.offset + record.length);
      try {
        // A copy for the generated decoder: TextDecoder refuses views of shared memory.
        items.push({ alert: this.channel.wantsFields ? response.decode(bytes.slice()) : null, line: this.format(bytes) });
      } catch (err) {
        unreadable.count++;
        unreadable.error = `an alert could not be formatted: ${err instanceof Error ? err.message : String(err)}`;
      }
    }
    return { items, unreadable, lastSeq };
  }

  private async retryLater(report: DeliveryReport): Promise<void> {
    this.ring.rewind();
    this.ring.setConnectionState('backoff');
    this.failing = true;
    const message: WorkerReport = { kind: 'error', error: report.error ?? `${report.failed} alert(s) not delivered; kept in the spool` };
    parentPort?.postMessage(message);
    this.retries++;
    await sleep(backoffDelay(this.retries, { baseMs: 200, capMs: 30_000 }), this.abort.signal);
  }

  private async deliver(items: readonly ChannelItem[]): Promise<DeliveryReport> {
    try {
      const report = await this.channel.deliver(items, this.abort.signal);
      if (report.delivered + report.failed !== items.length) {
        return { delivered: report.delivered, failed: items.length - report.delivered, error: report.error ?? 'the channel lost count of a batch' };
      }
      return report;
    } catch (err) {
      // The contract says deliver() never rejects; if one does, its batch is failed, not lost.
      return { delivered: 0, failed: items.length, error: err instanceof Error ? err.message : String(err) };
    }
  }

  private settle(count: number, lastSeq: number, report: DeliveryReport): void {
    this.ring.addSent(count);
    this.ring.setConnectionState(report.failed > 0 ? 'backoff' : 'ready');
    if (report.failed > 0) {
      this.failing = true;
      // The reason first, so that a host which sees the count can already read why.
      const message: WorkerReport = { kind: 'error', error: report.error ?? `${report.failed} alert(s) not delivered` };
      parentPort?.postMessage(message);
    } else if (this.failing) {
      this.failing = false;
      this.retries = 0;
      this.ring.addReconnect();
    }
    // The give-up count is published by settle() together with the acked sequence number.
    this.ring.settle(lastSeq, report.failed);
  }
}
