// The spool option of every output, checked and resolved into the plain settings its worker gets.

import { isAbsolute, resolve } from 'node:path';
import { positive } from '../common/check.js';
import { RECORD_HEADER_BYTES } from './format.js';

export interface SpoolOptions {
  /** The output's own directory (created if missing). One process and one output per directory. */
  dir: string;
  /** Most bytes of segment files on disk. Default 1 GiB. */
  maxBytes?: number;
  /**
   * What a full spool gives up, counted as `spool_full`: 'drop_newest' (default) keeps the
   * oldest unacknowledged alerts, the start of an incident; 'drop_oldest' deletes the oldest
   * segment to make room.
   */
  whenFull?: 'drop_newest' | 'drop_oldest';
  /**
   * When written records are forced to the disk: 'interval' (default, every fsyncIntervalMs),
   * 'always' (before a record's ring space is freed), 'never' (the kernel decides). Every
   * level survives a crash of the process; they differ on a power loss.
   */
  fsync?: 'interval' | 'always' | 'never';
  /** With fsync 'interval': how often. Default 500 ms. */
  fsyncIntervalMs?: number;
}

/** The resolved settings: plain data, cloned into the output's worker. */
export interface SpoolConfig {
  dir: string;
  maxBytes: number;
  segmentBytes: number;
  whenFull: 'drop_newest' | 'drop_oldest';
  fsync: 'interval' | 'always' | 'never';
  fsyncIntervalMs: number;
  /** The largest record payload (the output's maxAlertBytes). */
  maxRecordBytes: number;
}

const MIB = 1024 * 1024;

export function resolveSpool(who: string, options: SpoolOptions | undefined, maxAlertBytes: number): SpoolConfig | null {
  if (options === undefined) return null;
  if (options === null || typeof options !== 'object') throw new TypeError(`${who}: spool must be an object { dir, maxBytes, whenFull, fsync }`);
  const { dir } = options;
  if (typeof dir !== 'string' || dir === '') throw new TypeError(`${who}: spool.dir is required (a directory of its own for this output)`);
  if (options.whenFull !== undefined && options.whenFull !== 'drop_newest' && options.whenFull !== 'drop_oldest') {
    throw new TypeError(`${who}: spool.whenFull must be 'drop_newest' or 'drop_oldest', got ${String(options.whenFull)}`);
  }
  if (options.fsync !== undefined && !['interval', 'always', 'never'].includes(options.fsync)) {
    throw new TypeError(`${who}: spool.fsync must be 'interval', 'always' or 'never', got ${String(options.fsync)}`);
  }
  const maxBytes = positive(who, 'spool.maxBytes', options.maxBytes, 1024 * MIB, MIB);
  // Room for two of the largest records, so that a full spool still moves.
  if (maxBytes < 2 * (maxAlertBytes + RECORD_HEADER_BYTES)) {
    throw new RangeError(`${who}: spool.maxBytes ${maxBytes} must hold two alerts of maxAlertBytes (${maxAlertBytes}): give a larger spool.maxBytes or a smaller maxAlertBytes`);
  }
  return {
    dir: isAbsolute(dir) ? dir : resolve(dir),
    maxBytes,
    // Space is freed a whole segment at a time: eight or more segments keep that granular.
    segmentBytes: Math.max(64 * 1024, Math.min(64 * MIB, Math.floor(maxBytes / 8))),
    whenFull: options.whenFull ?? 'drop_newest',
    fsync: options.fsync ?? 'interval',
    fsyncIntervalMs: positive(who, 'spool.fsyncIntervalMs', options.fsyncIntervalMs, 500, 1),
    maxRecordBytes: maxAlertBytes,
  };
}
