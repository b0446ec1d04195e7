// QueueOptions checked and defaulted: the same rules for every output's ring.

import { maxRecordFor, ringCapacityFor } from '../ring/ring.js';
import type { QueueOptions } from './output.js';
import { positive } from '../common/check.js';
import { stderrLog, type LogFn } from '../common/log.js';
import { resolveSpool, type SpoolConfig } from '../spool/options.js';

export interface ResolvedQueue {
  capacity: number;
  maxAlertBytes: number;
  onFull: 'drop' | 'block';
  blockTimeoutMs: number;
  exitFlushMs: number;
  log: LogFn;
  spool: SpoolConfig | null;
}

export function resolveQueue(who: string, options: QueueOptions): ResolvedQueue {
  if (options.onFull !== undefined && options.onFull !== 'drop' && options.onFull !== 'block') {
    throw new TypeError(`${who}: onFull must be 'drop' or 'block', got ${String(options.onFull)}`);
  }
  const capacity = ringCapacityFor(positive(who, 'bufferBytes', options.bufferBytes, 8 * 1024 * 1024));
  const maxAlertBytes = Math.min(positive(who, 'maxAlertBytes', options.maxAlertBytes, 1024 * 1024, 64), maxRecordFor(capacity));
  return {
    capacity,
    maxAlertBytes,
    onFull: options.onFull ?? 'drop',
    blockTimeoutMs: positive(who, 'blockTimeoutMs', options.blockTimeoutMs, 5000, 0),
    exitFlushMs: positive(who, 'exitFlushMs', options.exitFlushMs, 2000, 0),
    log: resolveLog(who, options.log),
    spool: resolveSpool(who, options.spool, maxAlertBytes),
  };
}

function resolveLog(who: string, log: LogFn | undefined): LogFn {
  if (log !== undefined && typeof log !== 'function') throw new TypeError(`${who}: log must be a function (line: string) => void`);
  return log ?? stderrLog;
}
