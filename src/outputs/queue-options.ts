// QueueOptions checked and defaulted: the same rules for every output's ring.

import { maxRecordFor, ringCapacityFor } from '../ring/ring.js';
import type { QueueOptions } from './output.js';

export interface ResolvedQueue {
  capacity: number;
  maxAlertBytes: number;
  onFull: 'drop' | 'block';
  blockTimeoutMs: number;
  exitFlushMs: number;
}

/** A number option checked against `min`, or its default; `who` names the caller in the error. */
export function positive(who: string, name: string, value: number | undefined, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    throw new RangeError(`${who}: ${name} must be a number >= ${min}, got ${String(value)}`);
  }
  return value;
}

export function resolveQueue(who: string, options: QueueOptions): ResolvedQueue {
  if (options.onFull !== undefined && options.onFull !== 'drop' && options.onFull !== 'block') {
    throw new TypeError(`${who}: onFull must be 'drop' or 'block', got ${String(options.onFull)}`);
  }
  const capacity = ringCapacityFor(positive(who, 'bufferBytes', options.bufferBytes, 8 * 1024 * 1024));
  return {
    capacity,
    maxAlertBytes: Math.min(positive(who, 'maxAlertBytes', options.maxAlertBytes, 1024 * 1024, 64), maxRecordFor(capacity)),
    onFull: options.onFull ?? 'drop',
    blockTimeoutMs: positive(who, 'blockTimeoutMs', options.blockTimeoutMs, 5000, 0),
    exitFlushMs: positive(who, 'exitFlushMs', options.exitFlushMs, 2000, 0),
  };
}
