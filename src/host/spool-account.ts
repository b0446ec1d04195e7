// The host's side of an output's spool: the directory's lock, taken when the output is built, and
// the counts the worker keeps in the ring header turned into stats(), flush targets and the words
// said at close and exit. With a spool, sequence numbers continue across processes and alerts of
// an earlier process are replayed, so the ring's own count of acks no longer says it all.

import type { RingProducer } from '../ring/ring.js';
import { lockSpool, type SpoolLock } from '../spool/lock.js';
import type { SpoolConfig } from '../spool/options.js';
import type { LogFn } from '../common/log.js';
import type { SpoolStats } from './output.js';

export interface SpoolCounts {
  acked: number;
  pending: number;
  replayed: number;
  spool_full: number;
  corrupt: number;
}

export class SpoolAccount {
  private readonly lock: SpoolLock;

  constructor(
    private readonly ring: RingProducer,
    private readonly cfg: SpoolConfig,
    who: string,
    log: LogFn,
  ) {
    this.lock = lockSpool(who, cfg.dir, log);
  }

  /**
   * What the ring's acked sequence number must reach for the first `written` ring records to be
   * settled, or null while that is not known yet (the spool not open, records still in the ring).
   */
  flushTarget(written: number): number | null {
    const state = this.ring.spoolState();
    if (state === 'none') return null;
    if (state === 'failed') return written; // the ring alone: numbered as without a spool
    if (this.ring.spoolCounter('ringFreed') < written) return null;
    return this.ring.spoolCounter('tailSeq');
  }

  /** True once the first `written` ring records are on disk (or, without a working spool, acknowledged). */
  safe(written: number): boolean {
    const state = this.ring.spoolState();
    if (state === 'open') return this.ring.spoolCounter('ringFreed') >= written;
    return state === 'failed' && this.ring.ackedSeq() >= written;
  }

  /** The counts of stats(), or null when the spool is not open (the ring's own counts hold then). */
  counts(written: number, givenUp: number): SpoolCounts | null {
    if (this.ring.spoolState() !== 'open') return null;
    const delivered = this.ring.spoolCounter('delivered');
    const replayed = this.ring.spoolCounter('replayed');
    const spoolFull = this.ring.spoolCounter('spoolFull');
    const corrupt = this.ring.spoolCounter('corrupt');
    return {
      acked: delivered,
      pending: Math.max(0, replayed + written - delivered - givenUp - spoolFull - corrupt),
      replayed,
      spool_full: spoolFull,
      corrupt,
    };
  }

  stats(): SpoolStats {
    const state = this.ring.spoolState();
    const oldest = this.ring.spoolCounter('oldestMs');
    const replayTotal = this.ring.spoolCounter('replayed');
    const settledOfReplay = this.ring.ackedSeq() - this.ring.spoolCounter('replayBase');
    return {
      dir: this.cfg.dir,
      state: state === 'none' ? 'opening' : state,
      alerts: this.ring.spoolCounter('alerts'),
      bytes: this.ring.spoolCounter('bytes'),
      maxBytes: this.cfg.maxBytes,
      oldestUnackedAgeMs: oldest > 0 ? Math.max(0, Date.now() - oldest) : 0,
      replayTotal,
      replayDone: state === 'open' ? Math.max(0, Math.min(replayTotal, settledOfReplay)) : 0,
      diskErrors: this.ring.spoolCounter('diskErrors'),
    };
  }

  /**
   * Of `pending` alerts not acknowledged, those not on disk: still in the ring (or all of them when
   * the spool is not open). Once the worker is gone these are lost; the others wait for the next process.
   */
  notOnDisk(written: number, pending: number): number {
    if (this.ring.spoolState() !== 'open') return pending;
    return Math.min(pending, Math.max(0, written - this.ring.spoolCounter('ringFreed')));
  }

  /** Said when the output closes, or the process exits, with `pending` alerts not acknowledged; `lostNote` follows the lost ones. */
  leftBehind(written: number, pending: number, notDone: string, lostNote = ''): string {
    const inRing = this.notOnDisk(written, pending);
    const kept = pending - inRing;
    const parts: string[] = [];
    if (kept > 0) parts.push(`${kept} alert(s) ${notDone} stay in the spool ${this.cfg.dir} for the next start`);
    if (inRing > 0) parts.push(`${inRing} alert(s) ${notDone} never reached the spool ${this.cfg.dir}; they are lost${lostNote}`);
    return parts.join('; ');
  }

  release(): void {
    this.lock.release();
  }
}
