// syslog_output: each alert as one syslog message (RFC 5424, or RFC 3164 on request) to the local
// socket /dev/log, or to a receiver over UDP or TCP (RFC 6587 octet counting).

import type { response } from '../../../gen/falco/outputs/outputs.js';
import type { Channel, ChannelItem, DeliveryReport } from '../channel.js';
import type { SyslogOutputOptions } from './index.js';
import { backoffDelay, sleep, type BackoffPolicy } from '../../../common/backoff.js';
import { errorText } from '../../../common/errors.js';
import { checkAppName, facilityCode, syslogHeader, truncateUtf8, type SyslogHeaderOptions } from './syslog-format.js';
import { TcpTransport, UdpTransport } from './syslog-net.js';
import {
  DEFAULT_SYSLOG_ADDRESS,
  SendError,
  parseSyslogAddress,
  type SyslogAddress,
  type SyslogTransport,
  type TransportTimeouts,
} from './syslog-transport.js';
import { UnixDatagramTransport } from './syslog-unix.js';

/** Retry and timeout settings; the defaults suit production, tests shorten them. */
export interface SyslogTuning extends TransportTimeouts {
  /** Tries per message (or per run of messages on TCP) before the rest of the batch is given up. */
  attempts: number;
  backoff: BackoffPolicy;
}

export const DEFAULT_SYSLOG_TUNING: SyslogTuning = {
  attempts: 3,
  backoff: { baseMs: 100, capMs: 2000 },
  connectTimeoutMs: 5000,
  stallTimeoutMs: 10_000,
};

/** Appended to a message cut to fit a datagram. */
export const TRUNCATION_MARKER = '...[truncated]';

// On TCP, messages are written in runs of up to this many bytes: one write and one callback per
// run rather than per alert. A run is also what is resent after a reconnect.
const TCP_RUN_BYTES = 64 * 1024;

function createTransport(address: SyslogAddress, timeouts: TransportTimeouts): SyslogTransport {
  if (address.kind === 'unix') return new UnixDatagramTransport(address.path, timeouts);
  if (address.kind === 'udp') return new UdpTransport(address.host, address.port);
  return new TcpTransport(address.host, address.port, timeouts);
}

interface Tally {
  delivered: number;
  failed: number;
  error?: string;
}

/** What the header falls back to for an item without fields: now, this host, Notice. */
const NO_FIELDS: response = { time: undefined, priority: 5, sourceDeprecated: 0, rule: '', output: '', outputFields: {}, hostname: '', tags: [], source: '' };

export class SyslogChannel implements Channel {
  /** The header needs the priority, time and hostname. */
  readonly wantsFields = true;
  /** The address as configured, named in every error. */
  readonly address: string;
  private readonly transport: SyslogTransport;
  private readonly header: SyslogHeaderOptions;
  private readonly tuning: SyslogTuning;
  private truncated = 0;
  private closed = false;

  /** Throws, saying what is wrong, on a bad address, facility or appName. */
  constructor(options: SyslogOutputOptions = {}, tuning: Partial<SyslogTuning> = {}) {
    const address = parseSyslogAddress(options.address ?? DEFAULT_SYSLOG_ADDRESS);
    const format = options.format ?? 'rfc5424';
    if (format !== 'rfc5424' && format !== 'rfc3164') {
      throw new Error(`syslog format "${String(format)}" is unknown; use rfc5424 or rfc3164`);
    }
    this.address = address.text;
    this.tuning = { ...DEFAULT_SYSLOG_TUNING, ...tuning };
    this.tuning.attempts = Math.max(1, Math.floor(this.tuning.attempts));
    this.header = {
      format,
      facility: facilityCode(options.facility ?? 'user'),
      appName: checkAppName(options.appName ?? 'falco'),
      procId: process.pid,
      hostnameIn3164: address.kind !== 'unix',
    };
    this.transport = createTransport(address, this.tuning);
  }

  /** Messages cut to fit a datagram so far (they count as delivered). */
  get truncatedCount(): number {
    return this.truncated;
  }

  async deliver(items: readonly ChannelItem[], signal: AbortSignal): Promise<DeliveryReport> {
    const tally: Tally = { delivered: 0, failed: 0 };
    try {
      await this.deliverAll(items, signal, tally);
    } catch (err) {
      // Not expected (every send error is caught below); still, never reject and keep the count whole.
      tally.error = `syslog ${this.address}: ${errorText(err)}`;
    }
    const unaccounted = items.length - tally.delivered - tally.failed;
    if (unaccounted > 0) tally.failed += unaccounted;
    return tally;
  }

  private async deliverAll(items: readonly ChannelItem[], signal: AbortSignal, tally: Tally): Promise<void> {
    let next = 0;
    while (next < items.length) {
      const stop = this.closed ? 'the channel is closed' : signal.aborted ? 'aborted (the output is closing)' : null;
      if (stop) {
        this.giveUpRest(items.length - next, `syslog ${this.address}: ${stop}`, tally);
        return;
      }
      const run = this.nextRun(items, next);
      const failure = await this.sendWithRetries(run.data, signal);
      if (failure === null) {
        tally.delivered += run.count;
      } else if (failure.scope === 'message') {
        tally.failed += run.count;
        tally.error = failure.message;
      } else {
        // The receiver is unreachable: the rest of the batch would only wait out the same retries.
        this.giveUpRest(items.length - next, failure.message, tally);
        return;
      }
      next += run.count;
    }
  }

  private giveUpRest(count: number, error: string, tally: Tally): void {
    tally.failed += count;
    tally.error = error;
  }

  /** One datagram, or on TCP as many octet-counted messages as fit in a run. */
  private nextRun(items: readonly ChannelItem[], from: number): { data: Buffer; count: number } {
    const limit = this.transport.maxMessageBytes;
    if (limit !== null) {
      const message = this.message(items[from]!);
      const data = truncateUtf8(message, limit, TRUNCATION_MARKER);
      if (data !== message) this.truncated++;
      return { data, count: 1 };
    }
    const frames: Buffer[] = [];
    let bytes = 0;
    let i = from;
    while (i < items.length && (frames.length === 0 || bytes < TCP_RUN_BYTES)) {
      const message = this.message(items[i]!);
      const frame = Buffer.concat([Buffer.from(`${message.length} `), message]); // RFC 6587: MSG-LEN SP SYSLOG-MSG
      frames.push(frame);
      bytes += frame.length;
      i++;
    }
    return { data: Buffer.concat(frames, bytes), count: frames.length };
  }

  private message(item: ChannelItem): Buffer {
    return Buffer.from(syslogHeader(item.alert ?? NO_FIELDS, this.header) + item.line);
  }

  /** null when sent; else why it was given up, naming the address and the attempts. */
  private async sendWithRetries(data: Buffer, signal: AbortSignal): Promise<SendError | null> {
    let last: SendError | null = null;
    let attempt = 0;
    while (attempt < this.tuning.attempts) {
      if (attempt > 0 && !(await sleep(backoffDelay(attempt, this.tuning.backoff), signal))) break;
      attempt++;
      try {
        await this.transport.send(data);
        return null;
      } catch (err) {
        last = err instanceof SendError ? err : new SendError(errorText(err), 'peer');
        if (last.scope === 'message') {
          return new SendError(`syslog ${this.address}: ${last.message} (a ${data.length}-byte message; not retried)`, 'message');
        }
      }
    }
    const why = last ? last.message : 'aborted (the output is closing)';
    const aborted = signal.aborted && attempt < this.tuning.attempts ? ', then aborted' : '';
    return new SendError(`syslog ${this.address}: ${why} after ${attempt} attempt${attempt === 1 ? '' : 's'}${aborted}`, 'peer');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.transport.close().catch(() => undefined);
  }
}
