// The worker's side of the transmitter: drains the ring into a Transmitter/Publish stream,
// frees ring space on acks, resends after a reconnect. Runs only inside the worker thread,
// so nothing here may block: waits are Atomics.waitAsync, timers and stream events.

import * as grpc from '@grpc/grpc-js';
import { PublishAck } from '../../gen/falco/transmit/v1/transmit.js';
import type { RingConsumer } from '../../ring/ring.js';
import type { SenderConfig } from './config.js';
import { PublishRequestWriter } from '../../codec/publish-request.js';
import { backoffDelay } from '../../common/backoff.js';
import { registerTargetsResolver, SERVICE_CONFIG } from './targets.js';

const PUBLISH_PATH = '/falco.transmit.v1.Transmitter/Publish';
/** How long the worker keeps polling the ring after the last alert before it sleeps until notified. */
const POLL_BEFORE_SLEEP_MS = 50;
/** How long a closing worker waits for the receiver to end the stream. */
const CLOSE_GRACE_MS = 1000;

/** Status codes that mean "this batch can never be accepted", not "try again later". */
const REFUSED = new Set([grpc.status.RESOURCE_EXHAUSTED, grpc.status.INVALID_ARGUMENT]);

/** What the sender tells whoever runs it (the worker passes it on to the host). */
export interface SenderEvents {
  /** The last failure: a gRPC status name and details. */
  error(text: string): void;
  /** A line worth a person's attention. */
  log(line: string): void;
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
  };
  if (cfg.keepaliveMs > 0) {
    options['grpc.keepalive_time_ms'] = cfg.keepaliveMs;
    options['grpc.keepalive_timeout_ms'] = Math.min(20_000, cfg.keepaliveMs);
    options['grpc.keepalive_permit_without_calls'] = 1;
  }
  if (cfg.serverName) options['grpc.ssl_target_name_override'] = cfg.serverName;
  return options;
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
  /** Sequence number the next read record gets. */
  private nextSeq: number;
  /** Highest sequence number ever sent: anything at or below it that is sent again is a resend. */
  private highestSent: number;
  /** Reconnects since the last ack: the backoff grows with it. */
  private retries = 0;
  /**
   * After a refusal, alerts up to this sequence number go one at a time, each waiting for
   * its ack, so the one the receiver refuses is isolated.
   */
  private isolateThrough = 0;

  constructor(
    private readonly ring: RingConsumer,
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
          const firstSeq = this.nextSeq;
          const request = this.nextBatch();
          lastBatchFirstSeq = firstSeq;
          lastBatchSize = this.nextSeq - firstSeq;
          const resent = Math.max(0, Math.min(this.highestSent, this.nextSeq - 1) - firstSeq + 1);
          if (resent > 0) this.ring.addResent(resent);
          this.highestSent = Math.max(this.highestSent, this.nextSeq - 1);
          this.ring.setHighestSent(this.highestSent);
          this.ring.addSent(lastBatchSize);
          if (!call.write(request)) {
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
    this.events.error(`${grpc.status[end.code]}: ${end.details}`);
    if (!REFUSED.has(end.code)) return;
    // The receiver refused a message. Resend what was in flight one alert at a time; an
    // alert refused on its own can never be delivered, so it is given up and counted
    // instead of blocking everything behind it.
    if (this.isolating() && end.lastBatchSize === 1 && end.lastBatchFirstSeq === this.ackedSeq + 1) {
      this.events.log(`falco-grpc-output: receiver refused alert #${end.lastBatchFirstSeq} (${grpc.status[end.code]}: ${end.details}); dropped`);
      this.onAck(this.ackedSeq + 1);
      this.ring.addGivenUp(1); // last: whoever sees it sees the ring space freed too
      return;
    }
    this.isolateThrough = Math.max(this.isolateThrough, this.nextSeq - 1);
  }

  private onAck(through: number): void {
    if (through <= this.ackedSeq) return;
    const highestRead = Math.max(this.nextSeq - 1, this.highestSent);
    if (through > highestRead) {
      this.events.log(`falco-grpc-output: receiver acked #${through} but only #${highestRead} was sent; ignored`);
      return;
    }
    this.ring.release(through - this.ackedSeq, through);
    this.ackedSeq = through;
    if (this.nextSeq <= through) this.nextSeq = through + 1;
  }

  /** Reads up to one batch of records and encodes them as one PublishRequest. */
  private nextBatch(): Buffer {
    const maxAlerts = this.isolating() ? 1 : this.cfg.batchAlerts;
    const request = this.request;
    while (request.alerts < maxAlerts) {
      if (request.alerts > 0 && request.bytes >= this.cfg.batchBytes) break;
      const record = this.ring.read();
      if (record === null) break;
      request.add(record.offset, record.length);
    }
    const firstSeq = this.nextSeq;
    this.nextSeq += request.alerts;
    return request.finish(this.ring.data, firstSeq);
  }
}
