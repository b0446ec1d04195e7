// Falco's own subscription API on the receiver (falco.outputs.service sub/get and
// falco.version.service/version), so clients written for Falco's gRPC server keep working.
// Unlike Falco's server, every subscriber gets every alert. Alerts are copied once into a shared
// AlertLog; each subscriber is a position in it, so a stalled subscriber costs no memory and no
// work per alert (the fan-out touches only subscribers that are ready to write), and one that
// falls more than its queue behind loses its own oldest alerts, counted. `get` reads the same log.
// Alerts travel as the bytes the transmitter sent: a falco.outputs.response needs no re-encoding.

import * as grpc from '@grpc/grpc-js';
import type { ServerHttp2Stream } from 'node:http2';
import { createRequire } from 'node:module';
import { once, type EventEmitter } from 'node:events';
import { response as versionResponse } from '../gen/falco/version/version.js';
import type { LogFn } from '../common/log.js';
import { AlertLog } from './alert-log.js';
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
 * One subscription stream's position in the log and its writer. grpc-js's call.write() costs one
 * HTTP/2 write per alert, which holds a subscriber near 12,000 alerts/s; when the call's HTTP/2
 * stream is reachable, the writer sends whole runs of alerts as gRPC length-prefixed frames in
 * one write.
 */
class Subscriber {
  sent = 0;
  dropped = 0;
  /** Waiting for 'drain': not pumped until then. */
  waiting = false;
  private ended = false;
  private readonly raw: ServerHttp2Stream | null;

  constructor(
    readonly call: OutgoingCall,
    private readonly log: AlertLog,
    /** Alerts it may fall behind by. */
    private readonly queueAlerts: number,
    /** Next entry to send. */
    private cursor: number,
    /** For `get`: the entry after the last to send, then the call completes; null for `sub`. */
    private readonly until: number | null,
    private readonly ready: (s: Subscriber) => void,
  ) {
    call.sendMetadata(new grpc.Metadata()); // response headers go first: raw frames may follow them
    const stream = http2StreamOf(call);
    this.raw = stream?.headersSent ? stream : null;
    // grpc-js listens for no 'error' on its stream; a write racing the call's end must not crash the receiver.
    this.raw?.on('error', () => {});
    (this.raw ?? call).on('drain', () => {
      this.waiting = false;
      this.ready(this);
      this.pump();
    });
  }

  /** What it has lost by now: entries the log forgot (or, for `sub`, beyond its queue), skipped as dropped. */
  private catchUp(): void {
    const oldest = this.until === null ? Math.max(this.log.first, this.log.next - this.queueAlerts) : Math.min(this.log.first, this.until);
    if (this.cursor < oldest) {
      this.dropped += oldest - this.cursor;
      this.cursor = oldest;
    }
  }

  get queued(): number {
    this.catchUp();
    return (this.until ?? this.log.next) - this.cursor;
  }

  get done(): boolean {
    return this.until !== null && this.cursor >= this.until;
  }

  /** Writes until the stream pushes back ('drain' resumes it) or nothing is left. */
  pump(): void {
    while (!this.waiting && !this.ended) {
      if (this.call.cancelled || this.raw?.writableEnded || this.raw?.destroyed) return;
      this.catchUp();
      const end = this.until ?? this.log.next;
      if (this.cursor >= end) break;
      const more = this.raw ? this.raw.write(this.takeFrames(end)) : this.call.write(this.take());
      this.waiting = !more;
    }
    if (this.done && !this.waiting) this.end();
  }

  /** Completes the call, once. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.call.end();
  }

  private take(): Buffer {
    this.sent++;
    return this.log.copyOf(this.cursor++);
  }

  /** Alerts from the cursor as consecutive gRPC messages: [0 = uncompressed][u32 length][bytes]. */
  private takeFrames(end: number): Buffer {
    let bytes = 0;
    let last = this.cursor;
    while (last < end && (bytes === 0 || bytes < WRITE_CHUNK_BYTES)) bytes += 5 + this.log.lengthOf(last++);
    const out = Buffer.allocUnsafe(bytes);
    let at = 0;
    for (; this.cursor < last; this.cursor++) {
      const n = this.log.lengthOf(this.cursor);
      out[at] = 0;
      out.writeUInt32BE(n, at + 1);
      at = this.log.copyTo(this.cursor, out, at + 5);
      this.sent++;
    }
    return out;
  }

  stats(): SubscriberStats {
    const queued = this.queued;
    return { peer: this.call.getPeer(), queued, sent: this.sent, dropped: this.dropped };
  }
}

export interface SubscriptionOptions {
  /** Per-subscriber queue, in alerts. Default 50,000: half a second at 100,000/s, about what the default history bytes hold; a queue is a position in the shared log, so it costs no memory of its own. */
  queueAlerts?: number;
  /** Alerts kept for `get`. Default 10,000. */
  historyAlerts?: number;
  /** Bytes of recent alerts kept, for `get` and for subscribers that fall behind (one shared buffer). Default 32 MiB. */
  historyBytes?: number;
  /** Subscription streams (sub and get) open at once; more are refused with RESOURCE_EXHAUSTED. Default 100. */
  maxSubscribers?: number;
  /** Where to report refused subscribers. */
  log?: LogFn;
}

export interface SubscriptionStats {
  subscribers: number;
  /** Alerts dropped from subscribers' queues (oldest first), over all subscribers so far. */
  subscriberDrops: number;
  /** Subscription streams refused because maxSubscribers were open. */
  refusedSubscribers: number;
}

const PACKAGE_VERSION = (createRequire(import.meta.url)('../../../package.json') as { version: string }).version;

/** A sink that never refuses: ingest feeds it each run once durable, or a bus consumer feeds it what the bus holds. */
export class SubscriptionHub implements Sink {
  private readonly subscribers = new Set<Subscriber>();
  /** Subscribers not waiting for 'drain': the only ones a new run is pumped to. */
  private readonly ready = new Set<Subscriber>();
  private readonly log: AlertLog;
  private readonly queueAlerts: number;
  /** Alerts `get` returns at most. */
  readonly historyAlerts: number;
  private readonly maxSubscribers: number;
  private readonly report: LogFn;
  private droppedByGone = 0;
  private refused = 0;
  /** Bus `get`s being written: they hold what they read, so they count against the cap. */
  private busGets = 0;
  private readonly markReady = (s: Subscriber): void => {
    if (this.subscribers.has(s)) this.ready.add(s);
  };

  /**
   * `busRecent`: where `get` reads from instead of this process's log (the bus's retained
   * alerts); it resolves null when that source is unavailable.
   */
  constructor(
    options: SubscriptionOptions = {},
    private readonly busRecent?: () => Promise<readonly Buffer[] | null>,
  ) {
    this.queueAlerts = wholeNumber('queueAlerts', options.queueAlerts ?? 50_000);
    this.historyAlerts = wholeNumber('historyAlerts', options.historyAlerts ?? 10_000);
    this.maxSubscribers = wholeNumber('maxSubscribers', options.maxSubscribers ?? 100);
    this.log = new AlertLog(Math.max(this.queueAlerts, this.historyAlerts), wholeNumber('historyBytes', options.historyBytes ?? 32 * 1024 * 1024));
    this.report = options.log ?? (() => {});
  }

  /** Every accepted alert, in order, as its encoded falco.outputs.response. */
  write(run: AlertRun): void {
    this.offer(run.alerts);
  }

  /** Alerts for every subscriber and for `get`, in order (from ingest, or read back from the bus). */
  offer(alerts: readonly Buffer[]): void {
    for (const alert of alerts) this.log.append(alert);
    for (const s of this.ready) {
      s.pump();
      if (s.waiting) this.ready.delete(s);
    }
  }

  stats(): SubscriptionStats {
    let drops = this.droppedByGone;
    for (const s of this.subscribers) drops += s.stats().dropped;
    return { subscribers: this.subscribers.size, subscriberDrops: drops, refusedSubscribers: this.refused };
  }

  /** Copies of the newest `limit` alerts `get` would send now, oldest first; the last one is the latest accepted. */
  recent(limit = this.historyAlerts): Buffer[] {
    const out: Buffer[] = [];
    const from = Math.max(this.log.first, this.log.next - Math.min(limit, this.historyAlerts));
    for (let i = from; i < this.log.next; i++) out.push(this.log.copyOf(i));
    return out;
  }

  /** Each current subscriber's own counts. */
  subscriberStats(): SubscriberStats[] {
    return [...this.subscribers].map((s) => s.stats());
  }

  /** Ends every subscription (the receiver is stopping). */
  async close(): Promise<void> {
    for (const s of [...this.subscribers]) {
      this.remove(s);
      s.end();
    }
  }

  /** A subscriber that leaves loses what was still queued for it: counted with its drops. */
  private remove(s: Subscriber): void {
    if (!this.subscribers.delete(s)) return;
    this.ready.delete(s);
    const { dropped, queued } = s.stats();
    this.droppedByGone += dropped + queued;
  }

  /** True (and the call refused) when --max-subscribers streams are open: log subscribers and bus `get`s alike. */
  private refusedAtCap(call: OutgoingCall): boolean {
    const open = this.subscribers.size + this.busGets;
    if (open < this.maxSubscribers) return false;
    this.refused++;
    const details = `${open} subscription streams are open, the limit (--max-subscribers ${this.maxSubscribers})`;
    this.report(`falco-grpc-output receive: refused a subscriber from ${call.getPeer()}: ${details}`);
    call.emit('error', { code: grpc.status.RESOURCE_EXHAUSTED, details });
    return true;
  }

  /** A new subscription stream, or null when the cap is reached (the call is then refused). */
  private admit(call: OutgoingCall, from: number, until: number | null): Subscriber | null {
    if (this.refusedAtCap(call)) return null;
    const s = new Subscriber(call, this.log, this.queueAlerts, from, until, this.markReady);
    this.subscribers.add(s);
    this.ready.add(s);
    const gone = (): void => this.remove(s);
    call.on('cancelled', gone);
    call.on('error', gone);
    call.on('close', gone);
    call.on('finish', gone);
    return s;
  }

  private subscribe(call: grpc.ServerDuplexStream<Buffer, Buffer>): void {
    const s = this.admit(call, this.log.next, null);
    if (!s) return;
    // Continuous stream; the client's (empty) requests, e.g. Falco's Go client polling on a timer, are read and ignored.
    call.on('data', () => {});
    call.on('end', () => {
      this.remove(s);
      s.end();
    });
  }

  /** `get`: the retained recent alerts, then the call completes; with a bus, the stream's. */
  private history(call: grpc.ServerWritableStream<Buffer, Buffer>): void {
    if (this.busRecent) {
      void this.busHistory(call, this.busRecent);
      return;
    }
    const from = Math.max(this.log.first, this.log.next - this.historyAlerts);
    this.admit(call, from, this.log.next)?.pump();
  }

  /**
   * `get` from the bus's retained alerts. It holds what it read until written, so it counts
   * against --max-subscribers like any subscription stream: bounded memory however many call.
   */
  private async busHistory(call: grpc.ServerWritableStream<Buffer, Buffer>, read: () => Promise<readonly Buffer[] | null>): Promise<void> {
    if (this.refusedAtCap(call)) return;
    this.busGets++;
    try {
      await this.writeBusHistory(call, read);
    } finally {
      this.busGets--;
    }
  }

  private async writeBusHistory(call: grpc.ServerWritableStream<Buffer, Buffer>, read: () => Promise<readonly Buffer[] | null>): Promise<void> {
    let alerts: readonly Buffer[] | null;
    try {
      alerts = await read();
    } catch (err) {
      call.emit('error', { code: grpc.status.UNAVAILABLE, details: `reading the bus failed: ${err instanceof Error ? err.message : String(err)}` });
      return;
    }
    if (alerts === null) {
      call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'the bus is not ready' });
      return;
    }
    for (const alert of alerts) {
      if (call.cancelled || call.destroyed) return;
      // A client that goes away mid-write ends the wait too: its `get` must not hold a place for ever.
      if (!call.write(alert)) await firstOf(call, ['drain', 'cancelled', 'close', 'error']);
    }
    call.end();
  }

  /** Adds falco.version.service, and falco.outputs.service unless `outputs` is false. */
  addToServer(server: grpc.Server, { outputs }: { outputs: boolean }): void {
    if (outputs) {
      server.addService(
        { sub: rawMethod('/falco.outputs.service/sub', true, true), get: rawMethod('/falco.outputs.service/get', false, true) },
        {
          sub: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => this.subscribe(call),
          get: (call: grpc.ServerWritableStream<Buffer, Buffer>) => this.history(call),
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

function wholeNumber(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`subscriptions: ${name} must be a whole number >= 1, got ${String(value)}`);
  return value;
}

/** Resolves at the first of `events`; the listeners for the others are removed, so waits do not pile up on a long call. */
async function firstOf(emitter: EventEmitter, events: readonly string[]): Promise<void> {
  const done = new AbortController();
  try {
    await Promise.race(events.map((event) => once(emitter, event, { signal: done.signal })));
  } catch {
    // 'error' rejects once(): the caller sees the call destroyed and stops
  } finally {
    done.abort();
  }
}
