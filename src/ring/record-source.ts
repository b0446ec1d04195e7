// What a worker's consumer (the gRPC sender, a channel drain) reads: "the next unacknowledged
// records", whether they come straight from the ring (RingConsumer, zero-copy) or from a spool on
// disk behind it (src/spool/spool-source.ts). Records carry their sequence numbers; a gap between
// two (records a spool gave up) is where a new batch starts. The status half is the ring header's:
// the host reads it, whichever source the worker runs.

import type { ConnectionState, RingRecord } from './ring.js';

export interface WorkerStatus {
  /** The host asked the worker to finish. */
  closing(): boolean;
  setConnectionState(state: ConnectionState): void;
  addSent(n: number): void;
  addResent(n: number): void;
  addReconnect(): void;
  highestSent(): number;
  setHighestSent(seq: number): void;
}

export interface RecordSource extends WorkerStatus {
  /** True when records outlive the process (a spool): a closing consumer leaves them for the next process. */
  readonly durable: boolean;
  /** Sequence number through which every record is acknowledged or given up. */
  ackedSeq(): number;
  /** True when read() would return a record now. */
  hasUnread(): boolean;
  /** Bytes waiting to be read: a hint for batching. */
  unreadBytes(): number;
  /** The sequence number of the record read() returns next (meaningful while hasUnread()). */
  nextSeq(): number;
  /** The next record, or null. The object is reused; its bytes stay valid until settled. */
  read(): RingRecord | null;
  /** Reads again from the first record not settled: everything unacknowledged is sent again. */
  rewind(): void;
  /** Every record through `through` is done: `givenUp` of the newest were given up, the rest acknowledged. */
  settle(through: number, givenUp: number): void;
  /** Resolves when a record can be read, close is requested, or after timeoutMs. */
  waitForData(timeoutMs: number): Promise<void>;
}
