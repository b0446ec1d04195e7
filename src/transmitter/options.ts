// What createGrpcOutput() accepts, and the plain settings the worker receives.

import { randomUUID } from 'node:crypto';
import { loadTls, type LoadedTls, type TlsOptions } from '../tls/pem.js';
import { maxRecordFor, ringCapacityFor } from '../ring/ring.js';

export interface GrpcOutputOptions {
  /** `host:port` or `unix:///path/to.sock`. */
  target: string;
  /** mTLS material (PEM text or file paths). Required for TCP targets unless `insecure`. */
  tls?: TlsOptions;
  /** Explicit opt-in to plaintext TCP. */
  insecure?: boolean;
  /** Ring size in bytes (rounded up to a power of two). Default 8 MiB. */
  bufferBytes?: number;
  /** Largest encoded alert; larger ones are dropped as `too_large`. Default 1 MiB (and at most half the ring). */
  maxAlertBytes?: number;
  /** What emit() does when the ring is full. Default 'drop'; 'block' is for batch tools only. */
  onFull?: 'drop' | 'block';
  /** With onFull 'block': how long emit() may block the calling thread. Default 5000 ms. */
  blockTimeoutMs?: number;
  /** Largest batch in bytes. Default 1 MiB. */
  batchBytes?: number;
  /** Largest batch in alerts. Default 4096. */
  batchAlerts?: number;
  /** How long the worker waits for more alerts before sending a partial batch. Default 2 ms. */
  lingerMs?: number;
  /** gRPC keepalive ping interval; 0 disables. Default 30000 ms. */
  keepaliveMs?: number;
  /** First reconnect delay. Default 200 ms. */
  reconnectInitialMs?: number;
  /** Longest reconnect delay. Default 30000 ms. */
  reconnectMaxMs?: number;
  /** Stable id of this transmitter; default a random UUID. Must not be shared by two live transmitters. */
  producerId?: string;
  /** How long the process-exit hook waits for pending alerts to be acked. Default 2000 ms. */
  exitFlushMs?: number;
  /** Server name to verify in the receiver's certificate, when it differs from the target host. */
  serverName?: string;
}

/** Settings the worker needs: plain data, cloneable across threads. */
export interface SenderConfig {
  target: string;
  tls: LoadedTls | null;
  serverName: string | undefined;
  producerId: string;
  batchBytes: number;
  batchAlerts: number;
  lingerMs: number;
  keepaliveMs: number;
  reconnectInitialMs: number;
  reconnectMaxMs: number;
}

export interface ResolvedOptions {
  sender: SenderConfig;
  capacity: number;
  maxAlertBytes: number;
  onFull: 'drop' | 'block';
  blockTimeoutMs: number;
  exitFlushMs: number;
  warnInsecure: boolean;
}

function positive(name: string, value: number | undefined, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    throw new RangeError(`createGrpcOutput: ${name} must be a number >= ${min}, got ${String(value)}`);
  }
  return value;
}

export function resolveOptions(options: GrpcOutputOptions): ResolvedOptions {
  const { target } = options;
  if (typeof target !== 'string' || target === '') {
    throw new TypeError('createGrpcOutput: target is required ("host:port" or "unix:///path")');
  }
  const isUnix = target.startsWith('unix:');
  if (!isUnix && !options.tls && !options.insecure) {
    throw new Error(
      `createGrpcOutput: ${target} is a TCP target: give tls { ca, cert, key } for mTLS, or insecure: true for plaintext`,
    );
  }
  if (options.onFull !== undefined && options.onFull !== 'drop' && options.onFull !== 'block') {
    throw new TypeError(`createGrpcOutput: onFull must be 'drop' or 'block', got ${String(options.onFull)}`);
  }
  const capacity = ringCapacityFor(positive('bufferBytes', options.bufferBytes, 8 * 1024 * 1024));
  const maxAlertBytes = Math.min(positive('maxAlertBytes', options.maxAlertBytes, 1024 * 1024, 64), maxRecordFor(capacity));
  const tls = options.tls ? loadTls(options.tls) : null;
  return {
    capacity,
    maxAlertBytes,
    onFull: options.onFull ?? 'drop',
    blockTimeoutMs: positive('blockTimeoutMs', options.blockTimeoutMs, 5000, 0),
    exitFlushMs: positive('exitFlushMs', options.exitFlushMs, 2000, 0),
    warnInsecure: !isUnix && !tls,
    sender: {
      target,
      tls,
      serverName: options.serverName,
      producerId: options.producerId ?? randomUUID(),
      batchBytes: positive('batchBytes', options.batchBytes, 1024 * 1024, 1024),
      batchAlerts: positive('batchAlerts', options.batchAlerts, 4096),
      lingerMs: positive('lingerMs', options.lingerMs, 2, 0),
      keepaliveMs: positive('keepaliveMs', options.keepaliveMs, 30_000, 0),
      reconnectInitialMs: positive('reconnectInitialMs', options.reconnectInitialMs, 200),
      reconnectMaxMs: positive('reconnectMaxMs', options.reconnectMaxMs, 30_000),
    },
  };
}
