// One Publish stream (falco.transmit.v1.Transmitter/Publish): reads PublishRequests, hands them
// to ingest, writes each ack, and holds the stream's window: with MAX_IN_HAND requests waiting
// for their acks it stops reading, so HTTP/2 flow control pushes back to the transmitter.

import * as grpc from '@grpc/grpc-js';
import { readPublishRequest, type PublishEnvelope } from '../codec/publish-request.js';
import { PublishAck } from '../gen/falco/transmit/v1/transmit.js';
import type { LogFn } from '../common/log.js';
import type { Ingest } from './ingest.js';

/** Requests a stream may have in hand before the receiver stops reading it (HTTP/2 then pushes back). */
const MAX_IN_HAND = 8;

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

export class PublishStream {
  private inHand = 0;
  private isEnded = false;
  private finish!: () => void;
  /** Settles once the stream ended and nothing it took is in hand. */
  readonly done = new Promise<void>((resolve) => (this.finish = resolve));
  private readonly peer: string;
  private readonly live = (): boolean => !this.isEnded;

  constructor(
    private readonly call: PublishCall,
    private readonly ctx: StreamContext,
  ) {
    this.peer = call.getPeer();
    call.sendMetadata(new grpc.Metadata()); // tells the transmitter the stream is up
    call.on('data', (bytes: Buffer) => this.onRequest(bytes));
    call.on('end', () => {
      if (this.inHand === 0) this.end();
    });
    call.on('error', () => this.end()); // client went away
    call.on('cancelled', () => this.end());
  }

  /** The receiver is stopping: read nothing more, end once what is in hand is acked. */
  drain(): void {
    this.call.pause();
    if (this.inHand === 0) this.end();
  }

  private onRequest(bytes: Buffer): void {
    if (this.isEnded || this.ctx.stopping()) return;
    let request: PublishEnvelope;
    try {
      request = readPublishRequest(bytes);
    } catch (err) {
      this.ctx.counts.rejectedStreams++;
      const details = `malformed PublishRequest (${bytes.length} bytes): ${(err as Error).message}`;
      this.ctx.log(`falco-grpc-output receive: ${this.peer}: ${details}`);
      this.end({ code: grpc.status.INVALID_ARGUMENT, details });
      return;
    }
    this.ctx.counts.requests++;
    this.inHand++;
    if (this.inHand >= MAX_IN_HAND) this.call.pause();
    this.ctx.ingest.take(request, this.live).then(
      (ackedThrough) => {
        if (!this.isEnded) this.call.write(Buffer.from(PublishAck.encode({ ackedThrough: BigInt(ackedThrough) }).finish()));
        this.settle();
      },
      (err: unknown) => {
        // The sink refused: no ack, so the producer will resend after reconnecting.
        if (!this.isEnded) {
          this.ctx.log(`falco-grpc-output receive: sink failed: ${String(err)}`);
          this.end({ code: grpc.status.UNAVAILABLE, details: `receiver sink failed: ${String(err)}` });
        }
        this.settle();
      },
    );
  }

  private settle(): void {
    this.inHand--;
    if (this.isEnded) {
      if (this.inHand === 0) this.finish();
      return;
    }
    if (this.inHand < MAX_IN_HAND / 2 && this.call.isPaused()) this.call.resume();
    if (this.inHand === 0 && (this.ctx.stopping() || this.call.readableEnded)) this.end();
  }

  private end(status?: { code: grpc.status; details: string }): void {
    if (this.isEnded) return;
    this.isEnded = true;
    this.ctx.ended(this);
    this.call.pause();
    if (status) this.call.emit('error', status);
    else this.call.end();
    if (this.inHand === 0) this.finish();
  }
}
