// One Publish stream (falco.transmit.v1.Transmitter/Publish): reads PublishRequests, checks their
// sequence numbers, hands them to ingest and writes each ack. It holds the stream's window: with
// MAX_IN_HAND requests waiting for their acks, or with acks the peer is not reading, it stops
// reading, so HTTP/2 flow control pushes back to the transmitter and memory stays bounded.
// Nothing that goes wrong in one stream may escape it: it ends that stream with a status.

import * as grpc from '@grpc/grpc-js';
import { readPublishRequest, type PublishEnvelope } from '../codec/publish-request.js';
import { writeVarint } from '../codec/wire.js';
import { errorText } from '../common/errors.js';
import type { LogFn } from '../common/log.js';
import type { Ingest } from './ingest.js';

/** Requests a stream may have in hand before the receiver stops reading it (HTTP/2 then pushes back). */
const MAX_IN_HAND = 8;
/** Producers one stream keeps pinned in the producer table (a transmitter has one per stream). */
const MAX_PINNED = 16;
/** The largest sequence number kept exact: the receiver counts in doubles. */
const MAX_SEQ = Number.MAX_SAFE_INTEGER;

export type PublishCall = grpc.ServerDuplexStream<Buffer, Buffer>;

/** What a stream needs from the server around it. */
export interface StreamContext {
  ingest: Ingest;
  log: LogFn;
  /** Stream counts the server reports. */
  counts: { requests: number; rejectedStreams: number };
  /** True once the receiver is shutting down: nothing more is read. */
  stopping(): boolean;
  /** The stream ended (any way); the server forgets it. */
  ended(stream: PublishStream): void;
}

/** Why a request's sequence numbers cannot be taken, or null. */
export function sequenceProblem(request: PublishEnvelope): string | null {
  const { firstSeq, alerts } = request;
  if (firstSeq > MAX_SEQ) return `first_seq ${firstSeq} is above ${MAX_SEQ} (2^53-1), the largest sequence number the receiver keeps exact`;
  if (alerts.length === 0) return null; // nothing to number: answered with the producer's current ack
  if (firstSeq < 1) return 'first_seq must be >= 1 when alerts are given';
  // Compared without computing the sum: beyond 2^53 it would round back into range.
  if (firstSeq > MAX_SEQ - (alerts.length - 1)) return `first_seq ${firstSeq} + ${alerts.length} alerts passes ${MAX_SEQ} (2^53-1), the largest sequence number the receiver keeps exact`;
  return null;
}

/** PublishAck { acked_through = 1 }, encoded by hand: no BigInt, and nothing that can throw for a sane number. */
function encodeAck(ackedThrough: number): Buffer {
  const out = Buffer.allocUnsafe(11);
  out[0] = 0x08;
  return out.subarray(0, writeVarint(out, 1, ackedThrough));
}

export class PublishStream {
  private inHand = 0;
  private isEnded = false;
  /** The last ack write was refused by the stream's buffer: the peer is not reading its acks. */
  private acksBacked = false;
  private finish!: () => void;
  /** Settles once the stream ended and nothing it took is in hand. */
  readonly done = new Promise<void>((resolve) => (this.finish = resolve));
  private readonly peer: string;
  /** Producers this stream published for (up to MAX_PINNED): their state outlives any table pressure while it is open. */
  private readonly pinned: string[] = [];
  private lastProducer = '';
  private readonly live = (): boolean => !this.isEnded;
  private readonly onAck = (ackedThrough: number): void => this.guard(() => this.acked(ackedThrough));
  private readonly onRefused = (err: unknown): void => this.guard(() => this.refused(err));

  constructor(
    private readonly call: PublishCall,
    private readonly ctx: StreamContext,
  ) {
    this.peer = call.getPeer();
    call.on('data', (bytes: Buffer) => this.guard(() => this.onRequest(bytes)));
    call.on('end', () => this.guard(() => this.inHand === 0 && this.end()));
    call.on('error', () => this.end()); // client went away
    call.on('cancelled', () => this.end());
    call.on('drain', () =>
      this.guard(() => {
        this.acksBacked = false;
        this.maybeResume();
      }),
    );
    call.sendMetadata(new grpc.Metadata()); // tells the transmitter the stream is up
  }

  /** The receiver is stopping: read nothing more, end once what is in hand is acked. */
  drain(): void {
    this.call.pause();
    if (this.inHand === 0) this.end();
  }

  /** Runs a step of this stream; anything it throws ends this stream, never the process. */
  private guard(step: () => unknown): void {
    try {
      step();
    } catch (err) {
      this.ctx.log(`falco-grpc-output receive: ${this.peer}: internal error on a Publish stream: ${errorText(err)}`);
      this.end({ code: grpc.status.INTERNAL, details: `receiver internal error: ${errorText(err)}` });
    }
  }

  private onRequest(bytes: Buffer): void {
    if (this.isEnded || this.ctx.stopping()) return;
    let request: PublishEnvelope;
    try {
      request = readPublishRequest(bytes);
    } catch (err) {
      this.reject(`malformed PublishRequest (${bytes.length} bytes): ${(err as Error).message}`);
      return;
    }
    const problem = sequenceProblem(request);
    if (problem !== null) {
      this.reject(`invalid PublishRequest from ${request.producerId}: ${problem}`);
      return;
    }
    this.ctx.counts.requests++;
    if (request.producerId !== this.lastProducer) this.pin(request.producerId);
    this.inHand++;
    if (this.inHand >= MAX_IN_HAND) this.call.pause();
    this.ctx.ingest.take(request, this.live).then(this.onAck, this.onRefused);
  }

  private pin(producerId: string): void {
    this.lastProducer = producerId;
    if (this.pinned.length >= MAX_PINNED || this.pinned.includes(producerId)) return;
    this.pinned.push(producerId);
    this.ctx.ingest.pin(producerId);
  }

  private reject(details: string): void {
    this.ctx.counts.rejectedStreams++;
    this.ctx.log(`falco-grpc-output receive: ${this.peer}: ${details}`);
    this.end({ code: grpc.status.INVALID_ARGUMENT, details });
  }

  private acked(ackedThrough: number): void {
    try {
      if (!this.isEnded && !this.call.write(encodeAck(Math.max(0, ackedThrough)))) {
        // The peer is not reading its acks: read nothing more from it until they drain.
        this.acksBacked = true;
        this.call.pause();
      }
    } finally {
      this.settle(); // even when the write threw: the request is no longer in hand
    }
  }

  /** The sink refused: no ack, so the producer resends after reconnecting. */
  private refused(err: unknown): void {
    this.settle();
    if (this.isEnded) return;
    // Ingest reports the sink's state; the stream only says why it ends.
    this.end({ code: grpc.status.UNAVAILABLE, details: `receiver sink failed: ${errorText(err)}` });
  }

  private settle(): void {
    this.inHand--;
    if (this.isEnded) {
      if (this.inHand === 0) this.finish();
      return;
    }
    if (this.inHand === 0 && (this.ctx.stopping() || this.call.readableEnded)) this.end();
    else this.maybeResume();
  }

  private maybeResume(): void {
    if (this.isEnded || this.ctx.stopping() || this.acksBacked) return;
    if (this.inHand < MAX_IN_HAND / 2 && this.call.isPaused()) this.call.resume();
  }

  private end(status?: { code: grpc.status; details: string }): void {
    if (this.isEnded) return;
    this.isEnded = true;
    this.ctx.ended(this);
    for (const id of this.pinned) this.ctx.ingest.unpin(id);
    try {
      this.call.pause();
      if (status) this.call.emit('error', status);
      else this.call.end();
    } catch {
      // a call already torn down: nothing more to tell its peer
    }
    if (this.inHand === 0) this.finish();
  }
}
