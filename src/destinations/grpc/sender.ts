// The worker's side of the transmitter: drains the record source (the ring, or the spool behind
// it) into a Transmitter/Publish stream, settles records on acks, resends after a reconnect. Runs
// only inside the worker thread, so nothing here may block: waits are Atomics.waitAsync, timers
// and stream events.

import * as grpc from '@grpc/grpc-js';
import { PublishAck } from '../../gen/falco/transmit/v1/transmit.js';
import type { RecordSource } from '../../ring/record-source.js';
import type { SenderConfig } from './config.js';
import { PublishRequestWriter } from '../../codec/publish-request.js';
import { backoffDelay } from '../../common/backoff.js';
import { registerTargetsResolver, SERVICE_CONFIG } from './targets.js';
import { diagnoseConnection, PROBE_TIMED_OUT } from './diagnose.js';

const PUBLISH_PATH = '/falco.transmit.v1.Transmitter/Publish';
/** How long the worker keeps polling the ring after the last alert before it sleeps until notified. */
const POLL_BEFORE_SLEEP_MS = 50;
/** How long a closing worker waits for the receiver to end the stream. */
const CLOSE_GRACE_MS = 1000;
/** Request buffers kept for reuse: a fresh 1 MiB Buffer per batch is page faults and GC work for the worker. */
const POOLED_REQUESTS = 4;
/** A batch ends once it reaches batchBytes, so its last alert runs past: a pooled buffer has this much room beyond. */
const POOLED_SLACK_BYTES = 64 * 1024;

/** Status codes that mean "this batch can never be accepted", not "try again later". */
const REFUSED = new Set([grpc.status.RESOURCE_EXHAUSTED, grpc.status.INVALID_ARGUMENT]);
/** Probes tried again after one timed out, until a stream comes up. */
const PROBE_RETRIES = 3;

/** What the sender tells whoever runs it (the worker passes it on to the host). */
export interface SenderEvents {
  /** The last failure: a gRPC status name and details. */
  error(text: string): void;
  /** A line worth a person's attention. */
  log(line: string): void;
}

/**
 * A failed attempt's status as one stable line: grpc-js stamps each attempt with the time and
 * appends an empty resolution note, so the same failure would read as a new one every retry.
 */
export function statusText(code: grpc.status, details: string): string {
  const tidy = details
    .replace(/ \(\d{4}-\d\d-\d\dT[\d:.]+Z\)/g, '')
    .replace(/\.? Resolution note: ?$/, '')
    .replace(/Last error: Error: /, 'Last error: ')
    // OpenSSL's line of internals ("C0C6...:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:../deps/...:350:"): its reason.
    .replace(/[0-9A-F]{8,}:error:[0-9A-F]+:[^:]*:[^:]*:([^:]+):[^\s:]*:\d+:\s*/g, '$1');
  return `${grpc.status[code]}: ${tidy}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function channelCredentials(cfg: SenderConfig): grpc.ChannelCredentials {
  if (cfg.tls === null) return grpc.credentials.createInsecure();
  // Buffers arrive from the host thread as plain Uint8Arrays.
  const { ca, key, cert } = cfg.tls;
  return grpc.credentials.createSsl(Buffer.from(ca), Buffer.from(key), Buffer.from(cert));
}

export function channelOptions(cfg: SenderConfig): grpc.ChannelOptions {
  const options: grpc.ChannelOptions = {
    'grpc.initial_reconnect_backoff_ms': cfg.reconnectInitialMs,
    'grpc.max_reconnect_backoff_ms': cfg.reconnectMaxMs,
    'grpc.max_send_message_length': -1,
    'grpc.service_config': SERVICE_CONFIG,
    // The sender resends from its record source itself after a reconnect; grpc-js's own retry
    // layer (its buffer accounting and throttling on every write) has nothing to add.
    'grpc.enable_retries': 0,
  };
  if (cfg.keepaliveMs > 0) {
    options['grpc.keepalive_time_ms'] = cfg.keepaliveMs;
    options['grpc.keepalive_timeout_ms'] = Math.min(20_000, cfg.keepaliveMs);
    options['grpc.keepalive_permit_without_calls'] = 1;
  }
  if (cfg.serverName) options['grpc.ssl_target_name_override'] = cfg.serverName;
  return options;
}


interface PooledRequest {
  bytes: Buffer;
  busy: boolean;
}

interface StreamEnd {
  code: grpc.status;
  details: string;
  /** First sequence number of the batch written last before the stream ended. */
  lastBatchFirstSeq: number;
  lastBatchSize: number;
}

export class Sender {
  private readonly client: grpc.Client;
  private readonly request: PublishRequestWriter;
  /** Sequence number of the last acknowledged alert (mirrors the ring's). */
  private ackedSeq: number;
  /** One past the sequence number of the last record read. */
  private nextSeq: number;
  /** Sequence number of the first alert of the batch nextBatch() wrote last. */
  private batchFirstSeq = 0;
  /** Highest sequence number ever sent: anything at or below it that is sent again is a resend. */
  private highestSent: number;
  /** Reconnects since the last ack: the backoff grows with it. */
  private retries = 0;
  /**
   * After a refusal, alerts up to this sequence number go one at a time, each waiting for
   * its ack, so the one the receiver refuses is isolated.
   */
  private isolateThrough = 0;
  /**
   * The last connection failure (`for`: its text, null once a probe for it timed out) and why it
   * fails, found by a probe (./diagnose.ts); kept until a stream comes up.
   */
  private cause: { for: string | null; text: string | null } | null = null;
  /** Probes that timed out since a stream last came up. */
  private probeTimeouts = 0;
  /** Request buffers, each busy from nextBatch() until grpc-js is done with its write (or its stream ended). */
  private readonly pool: PooledRequest[] = [];
  /** The pooled buffer the last request went into, or null when it has one of its own. */
  private batchBuffer: PooledRequest | null = null;

  constructor(
    /** The records: the ring itself, or a spool behind it (the name stays: it reads like the ring). */
    private readonly ring: RecordSource,
    private readonly cfg: SenderConfig,
    private readonly events: SenderEvents,
  ) {
    registerTargetsResolver();
    this.client = new grpc.Client(cfg.target, channelCredentials(cfg), channelOptions(cfg));
    this.request = new PublishRequestWriter(cfg.producerId, cfg.batchAlerts);
    this.ackedSeq = ring.ackedSeq();
    this.nextSeq = this.ackedSeq + 1;
    this.highestSent = Math.max(this.ackedSeq, ring.highestSent());
  }

  /** Runs until the host asks to close. */
  async run(): Promise<void> {
    let first = true;
    try {
      while (!this.ring.closing()) {
        if (!first) {
          this.ring.addReconnect();
          this.ring.setConnectionState('backoff');
          await this.backoff();
          if (this.ring.closing()) break;
        }
        first = false;
        const end = await this.stream();
        this.afterStream(end);
      }
    } finally {
      this.ring.setConnectionState('closed');
      this.client.close();
    }
  }

  private async backoff(): Promise<void> {
    this.retries++;
    const delay = backoffDelay(this.retries, { baseMs: this.cfg.reconnectInitialMs, capMs: this.cfg.reconnectMaxMs });
    // Wake early if the host closes, but not for new alerts: they wait in the ring.
    const deadline = Date.now() + delay;
    while (Date.now() < deadline && !this.ring.closing()) await sleep(Math.min(50, deadline - Date.now()));
  }

  /** One Publish stream, from open to end; resolves with how it ended. */
  private stream(): Promise<StreamEnd> {
    this.ring.setConnectionState('connecting');
    this.ring.rewind();
    this.nextSeq = this.ackedSeq + 1;
    const call = this.client.makeBidiStreamRequest(
      PUBLISH_PATH,
      (request: Buffer) => request,
      (bytes: Buffer) => PublishAck.decode(bytes),
      new grpc.Metadata(),
      {},
    );
    return new Promise<StreamEnd>((resolve) => {
      let ended = false;
      let lastBatchFirstSeq = 0;
      let lastBatchSize = 0;
      let wakeDrain: (() => void) | null = null;
      // Nothing is read from the ring until the stream is up: writes on a call that is still
      // connecting would be buffered by grpc-js and copied again after every failed attempt.
      let open = false;
      const channel = this.client.getChannel();
      call.on('metadata', () => {
        open = true;
        this.cause = null;
        this.probeTimeouts = 0;
        this.ring.setConnectionState('ready');
        // The backoff resets on an ack, not here: a receiver that accepts streams and then
        // fails every one of them must still see the backoff grow.
      });
      call.on('data', (ack: PublishAck) => {
        this.onAck(Number(ack.ackedThrough));
        this.ring.setConnectionState('ready');
        this.retries = 0;
      });
      call.on('drain', () => wakeDrain?.());
      call.on('error', () => {}); // the status event below carries the outcome
      call.on('status', (status: grpc.StatusObject) => {
        ended = true;
        // The call is over: grpc-js reads none of its requests any more, written or still queued.
        for (const pooled of this.pool) pooled.busy = false;
        wakeDrain?.();
        resolve({ code: status.code, details: status.details, lastBatchFirstSeq, lastBatchSize });
      });

      let lastData = performance.now();
      const pump = async (): Promise<void> => {
        while (!ended && !open) {
          if (this.ring.closing()) {
            call.cancel();
            return;
          }
          // Our receiver sends headers at once; another one may wait for a request, so a
          // ready channel is enough too.
          if (channel.getConnectivityState(false) === grpc.connectivityState.READY) open = true;
          else await sleep(5);
        }
        while (!ended) {
          if (this.ring.closing()) {
            await this.finish(call, () => ended);
            return;
          }
          if (!this.ring.hasUnread()) {
            // While alerts keep coming, poll on a timer: the host thread then never pays for
            // an Atomics.notify (a futex wake, microseconds on a VM). Only after a quiet
            // spell does the worker sleep and ask to be notified.
            // The poll interval doubles as the linger that lets a burst become one batch.
            if (performance.now() - lastData < POLL_BEFORE_SLEEP_MS) {
              await sleep(Math.max(1, this.cfg.lingerMs));
              continue;
            }
            await this.ring.waitForData(100);
            if (this.cfg.lingerMs > 0 && this.ring.unreadBytes() < this.cfg.batchBytes / 2) await sleep(this.cfg.lingerMs);
            continue;
          }
          lastData = performance.now();
          if (this.isolating() && this.nextSeq - 1 > this.ackedSeq) {
            await sleep(2); // stop-and-wait until the single alert in flight is acked
            continue;
          }
          const request = this.nextBatch();
          const firstSeq = this.batchFirstSeq;
          lastBatchFirstSeq = firstSeq;
          lastBatchSize = this.nextSeq - firstSeq;
          const resent = Math.max(0, Math.min(this.highestSent, this.nextSeq - 1) - firstSeq + 1);
          if (resent > 0) this.ring.addResent(resent);
          this.highestSent = Math.max(this.highestSent, this.nextSeq - 1);
          this.ring.setHighestSent(this.highestSent);
          this.ring.addSent(lastBatchSize);
          const pooled = this.batchBuffer;
          // The callback says grpc-js is done with the bytes (framed and written), not the receiver's ack:
          // an ack can run ahead of this stream (a resend after a restart the receiver already had).
          if (!call.write(request, pooled ? () => (pooled.busy = false) : undefined)) {
            // A receiver that stops reading never drains; the host closing must still get through.
            await new Promise<void>((resolve) => {
              const watch = setInterval(() => this.ring.closing() && wake(), 50);
              const wake = (): void => {
                clearInterval(watch);
                resolve();
              };
              wakeDrain = wake;
            });
            wakeDrain = null;
          }
        }
      };
      pump().catch((err: unknown) => {
        call.cancel();
        // A bug here must not be swallowed: crash the worker so it is replaced and resumes.
        setImmediate(() => {
          throw err;
        });
      });
    });
  }

  /** Closing: end the stream and give the receiver a moment to ack what it has. */
  private async finish(call: grpc.ClientDuplexStream<Buffer, PublishAck>, ended: () => boolean): Promise<void> {
    call.end();
    const deadline = Date.now() + CLOSE_GRACE_MS;
    while (!ended() && Date.now() < deadline) await sleep(10);
    if (!ended()) call.cancel();
  }

  private isolating(): boolean {
    return this.ackedSeq < this.isolateThrough;
  }

  private afterStream(end: StreamEnd): void {
    if (end.code === grpc.status.OK || end.code === grpc.status.CANCELLED) return;
    const text = statusText(end.code, end.details);
    if (end.code === grpc.status.UNAVAILABLE) this.explain(text);
    else this.events.error(text);
    if (!REFUSED.has(end.code)) return;
    // The receiver refused a message. Resend what was in flight one alert at a time; an
    // alert refused on its own can never be delivered, so it is given up and counted
    // instead of blocking everything behind it.
    // (Sequence numbers a spool gave up may lie between the last ack and that alert.)
    if (this.isolating() && end.lastBatchSize === 1 && end.lastBatchFirstSeq > this.ackedSeq) {
      this.events.log(`falco-grpc-output: receiver refused alert #${end.lastBatchFirstSeq} (${grpc.status[end.code]}: ${end.details}); dropped`);
      this.onAck(end.lastBatchFirstSeq, 1);
      return;
    }
    this.isolateThrough = Math.max(this.isolateThrough, this.nextSeq - 1);
  }

  /**
   * Reports a failed connection, with its cause once a probe found one. One probe per distinct
   * failure until a stream comes up: a receiver down for an hour is probed once, not per retry.
   * A probe that timed out learnt nothing (on a busy machine a handshake can take seconds): the
   * next failure probes again, up to PROBE_RETRIES times, so a peer that never answers (SYNs
   * dropped, a stopped process) is not probed on every reconnect.
   */
  private explain(text: string): void {
    if (this.cause?.for === text) {
      this.events.error(this.cause.text ? `${text}; ${this.cause.text}` : text);
      return;
    }
    // Until the new probe answers, the cause found for the last failure stands (grpc-js words
    // one refusal as "Failed to connect" and as "read ECONNRESET" by turns).
    const cause: { for: string | null; text: string | null } = { for: text, text: this.cause?.text ?? null };
    this.events.error(cause.text ? `${text}; ${cause.text}` : text);
    this.cause = cause;
    void diagnoseConnection(this.cfg).then((found) => {
      if (found === PROBE_TIMED_OUT) {
        if (this.cause === cause && ++this.probeTimeouts <= PROBE_RETRIES) cause.for = null;
        return;
      }
      if (found === null || this.cause !== cause || found === cause.text) return;
      cause.text = found;
      this.events.error(`${text}; ${found}`);
    });
  }

  /** Settles everything through `through`; the newest `givenUp` of them were refused. */
  private onAck(through: number, givenUp = 0): void {
    if (through <= this.ackedSeq) return;
    const highestRead = Math.max(this.nextSeq - 1, this.highestSent);
    if (through > highestRead) {
      // After a restart on a spool, the receiver may hold more than this process has sent again.
      if (!this.ring.durable) {
        this.events.log(`falco-grpc-output: receiver acked #${through} but only #${highestRead} was sent; ignored`);
        return;
      }
      through = highestRead;
      if (through <= this.ackedSeq) return;
    }
    this.ring.settle(through, givenUp);
    this.ackedSeq = through;
    if (this.nextSeq <= through) this.nextSeq = through + 1;
  }

  /** Reads up to one batch of records and encodes them as one PublishRequest. */
  private nextBatch(): Buffer {
    const maxAlerts = this.isolating() ? 1 : this.cfg.batchAlerts;
    const request = this.request;
    // A request's alerts have consecutive sequence numbers: a gap ends the batch.
    const firstSeq = this.ring.nextSeq();
    while (request.alerts < maxAlerts) {
      if (request.alerts > 0 && (request.bytes >= this.cfg.batchBytes || this.ring.nextSeq() !== firstSeq + request.alerts)) break;
      const record = this.ring.read();
      if (record === null) break;
      request.add(record.data, record.offset, record.length);
    }
    this.batchFirstSeq = firstSeq;
    this.nextSeq = firstSeq + request.alerts;
    return request.finish(firstSeq, this.bufferFor(request.size(firstSeq)));
  }

  /** A buffer for a request of `size` bytes: a free pooled one when there is one, else one of its own. */
  private bufferFor(size: number): Buffer {
    let pooled = this.pool.find((p) => !p.busy && p.bytes.length >= size) ?? null;
    if (pooled === null && this.pool.length < POOLED_REQUESTS) {
      pooled = { bytes: Buffer.allocUnsafeSlow(Math.max(size, this.cfg.batchBytes + POOLED_SLACK_BYTES)), busy: false };
      this.pool.push(pooled);
    }
    this.batchBuffer = pooled;
    if (pooled === null) return Buffer.allocUnsafe(size);
    pooled.busy = true;
    return pooled.bytes;
  }
}
