// Falco's own subscription API on the receiver (falco.outputs.service sub/get and
// falco.version.service/version), so clients written for Falco's gRPC server keep working.
// Unlike Falco's server, every subscriber gets every alert, each through a bounded queue of
// its own: a slow subscriber loses only its own oldest alerts and never slows anyone else.
// Alerts travel as the bytes the transmitter sent: a falco.outputs.response needs no re-encoding.

import * as grpc from '@grpc/grpc-js';
import type { ServerHttp2Stream } from 'node:http2';
import { createRequire } from 'node:module';
import { response as versionResponse } from '../gen/falco/version/version.js';
import { BoundedQueue } from './bounded-queue.js';
import { http2StreamOf } from './grpc-internals.js';
import type { AlertRun, Sink } from './sinks.js';

/** Bytes of gRPC frames gathered into one HTTP/2 write. */
const WRITE_CHUNK_BYTES = 256 * 1024;

type OutgoingCall = grpc.ServerWritableStream<unknown, Buffer> | grpc.ServerDuplexStream<unknown, Buffer>;

export interface SubscriberStats {
  /** The client's address. */
  peer: string;
  queued: number;
  sent: number;
  /** Dropped from this subscriber's queue (its oldest first) because it fell behind. */
  dropped: number;
}

/**
 * One subscriber's queue and writer. grpc-js's call.write() costs one HTTP/2 write per alert,
 * which holds a subscriber near 12,000 alerts/s; when the call's HTTP/2 stream is reachable,
 * the writer sends whole runs of queued alerts as gRPC length-prefixed frames in one write.
 */
class Subscriber {
  readonly queue: BoundedQueue<Buffer>;
  sent = 0;
  dropped = 0;
  private waiting = false;
  private readonly raw: ServerHttp2Stream | null;

  constructor(
    readonly call: OutgoingCall,
    capacity: number,
  ) {
    this.queue = new BoundedQueue(capacity);
    call.sendMetadata(new grpc.Metadata()); // response headers go first: raw frames may follow them
    const stream = http2StreamOf(call);
    this.raw = stream?.headersSent ? stream : null;
    // grpc-js listens for no 'error' on its stream; a write racing the call's end must not crash the receiver.
    this.raw?.on('error', () => {});
    (this.raw ?? call).on('drain', () => {
      this.waiting = false;
      this.pump();
    });
  }

  offer(alert: Buffer): void {
    if (this.queue.push(alert)) this.dropped++;
  }

  /** Writes until the stream pushes back; 'drain' resumes it. */
  pump(): void {
    while (!this.waiting && this.queue.size > 0) {
      if (this.call.cancelled || this.raw?.writableEnded || this.raw?.destroyed) return;
      const more = this.raw ? this.raw.write(this.takeFrames()) : this.call.write(this.take());
      this.waiting = !more;
    }
  }

  private take(): Buffer {
    this.sent++;
    return this.queue.shift()!;
  }

  /** Queued alerts as consecutive gRPC messages: [0 = uncompressed][u32 length][bytes]. */
  private takeFrames(): Buffer {
    const run: Buffer[] = [];
    let bytes = 0;
    while (this.queue.size > 0 && bytes < WRITE_CHUNK_BYTES) {
      const alert = this.take();
      run.push(alert);
      bytes += 5 + alert.length;
    }
    const out = Buffer.allocUnsafe(bytes);
    let at = 0;
    for (const alert of run) {
      out[at] = 0;
      out.writeUInt32BE(alert.length, at + 1);
      alert.copy(out, at + 5);
      at += 5 + alert.length;
    }
    return out;
  }

  stats(): SubscriberStats {
    return { peer: this.call.getPeer(), queued: this.queue.size, sent: this.sent, dropped: this.dropped };
  }
}

export interface SubscriptionOptions {
  /** Per-subscriber queue, in alerts. Default 10,000 (keep it above a transmitter's batch, 4,096 by default). */
  queueAlerts?: number;
  /** Alerts kept for `get`. Default 10,000. */
  historyAlerts?: number;
}

export interface SubscriptionStats {
  subscribers: number;
  /** Alerts dropped from subscribers' queues (oldest first), over all subscribers so far. */
  subscriberDrops: number;
}

const PACKAGE_VERSION = (createRequire(import.meta.url)('../../../package.json') as { version: string }).version;

/** A sink that never refuses: ingest feeds it each run once durable, or a bus consumer feeds it what the bus holds. */
export class SubscriptionHub implements Sink {
  private readonly subscribers = new Set<Subscriber>();
  private readonly history: BoundedQueue<Buffer>;
  private readonly queueAlerts: number;
  private droppedByGone = 0;

  /**
   * `recent`: where `get` reads from instead of this process's history (the bus's retained
   * alerts); it resolves null when that source is unavailable.
   */
  constructor(
    options: SubscriptionOptions = {},
    private readonly recent?: () => Promise<readonly Buffer[] | null>,
  ) {
    this.queueAlerts = wholeNumber('queueAlerts', options.queueAlerts ?? 10_000);
    this.history = new BoundedQueue(wholeNumber('historyAlerts', options.historyAlerts ?? 10_000));
  }

  /** Every accepted alert, in order, as its encoded falco.outputs.response. */
  write(run: AlertRun): void {
    this.offer(run.alerts);
  }

  /** Alerts for every subscriber and for `get`, in order (from ingest, or read back from the bus). */
  offer(alerts: readonly Buffer[]): void {
    for (const alert of alerts) {
      // Views into their requests, not copies: the queues hold only the newest alerts, which are
      // contiguous, so at most about one request's bytes are kept beyond the alerts themselves.
      this.history.push(alert);
      for (const s of this.subscribers) s.offer(alert);
    }
    for (const s of this.subscribers) s.pump();
  }

  stats(): SubscriptionStats {
    let drops = this.droppedByGone;
    for (const s of this.subscribers) drops += s.dropped;
    return { subscribers: this.subscribers.size, subscriberDrops: drops };
  }

  /** Each current subscriber's own counts. */
  subscriberStats(): SubscriberStats[] {
    return [...this.subscribers].map((s) => s.stats());
  }

  /** Ends every subscription (the receiver is stopping). */
  async close(): Promise<void> {
    for (const s of [...this.subscribers]) {
      this.remove(s);
      s.call.end();
    }
  }

  /** A subscriber that leaves loses what was still queued for it: counted with its drops. */
  private remove(s: Subscriber): void {
    if (!this.subscribers.delete(s)) return;
    s.dropped += s.queue.size;
    while (s.queue.shift() !== undefined);
    this.droppedByGone += s.dropped;
  }

  private subscribe(call: grpc.ServerDuplexStream<Buffer, Buffer>): void {
    const s = new Subscriber(call, this.queueAlerts);
    this.subscribers.add(s);
    const gone = (): void => this.remove(s);
    call.on('cancelled', gone);
    call.on('error', gone);
    call.on('close', gone);
    // Continuous stream; the client's (empty) requests, e.g. Falco's Go client polling on a timer, are read and ignored.
    call.on('data', () => {});
    call.on('end', () => {
      gone();
      call.end();
    });
  }

  /** `get`: the recent alerts, from this process's history or, with a bus, from the stream. */
  private async get(call: grpc.ServerWritableStream<Buffer, Buffer>): Promise<void> {
    if (!this.recent) return writeAll(call, this.history.toArray());
    let alerts: readonly Buffer[] | null;
    try {
      alerts = await this.recent();
    } catch (err) {
      call.emit('error', { code: grpc.status.UNAVAILABLE, details: `reading the bus failed: ${err instanceof Error ? err.message : String(err)}` });
      return;
    }
    if (alerts === null) call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'the bus is not ready' });
    else await writeAll(call, alerts);
  }

  /** Adds falco.version.service, and falco.outputs.service unless `outputs` is false. */
  addToServer(server: grpc.Server, { outputs }: { outputs: boolean }): void {
    if (outputs) {
      server.addService(
        { sub: rawMethod('/falco.outputs.service/sub', true, true), get: rawMethod('/falco.outputs.service/get', false, true) },
        {
          sub: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => this.subscribe(call),
          get: (call: grpc.ServerWritableStream<Buffer, Buffer>) => void this.get(call),
        },
      );
    }
    server.addService(
      { version: rawMethod('/falco.version.service/version', false, false) },
      {
        version: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
          const [major = 0, minor = 0, patch = 0] = PACKAGE_VERSION.split('.').map((n) => Number.parseInt(n, 10));
          const message = versionResponse.fromPartial({ version: `falco-grpc-output ${PACKAGE_VERSION}`, major, minor, patch });
          callback(null, Buffer.from(versionResponse.encode(message).finish()));
        },
      },
    );
  }
}

/** A method whose messages stay bytes: alerts are forwarded as received, requests are ignored. */
function rawMethod(path: string, requestStream: boolean, responseStream: boolean) {
  const raw = (b: Buffer): Buffer => b;
  return { path, requestStream, responseStream, requestSerialize: raw, requestDeserialize: raw, responseSerialize: raw, responseDeserialize: raw };
}

/** Writes a snapshot, honouring the stream's backpressure, then completes the call. */
async function writeAll(call: grpc.ServerWritableStream<Buffer, Buffer>, alerts: readonly Buffer[]): Promise<void> {
  for (const alert of alerts) {
    if (call.cancelled) return;
    if (!call.write(alert)) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          call.off('drain', done);
          call.off('cancelled', done);
          resolve();
        };
        call.on('drain', done);
        call.on('cancelled', done);
      });
    }
  }
  call.end();
}

function wholeNumber(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`subscriptions: ${name} must be a whole number >= 1, got ${String(value)}`);
  return value;
}
