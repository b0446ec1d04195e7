// What createGrpcOutput() accepts, checked and resolved into the sender's plain settings.

import { randomBytes, randomUUID } from 'node:crypto';
import { loadTls, type TlsOptions } from '../tls/pem.js';
import type { QueueOptions } from '../host/output.js';
import { resolveQueue, type ResolvedQueue } from '../host/queue-options.js';
import { positive as checked } from '../common/check.js';
import type { SenderConfig } from '../destinations/grpc/config.js';
import { channelTarget } from '../destinations/grpc/targets.js';

export interface GrpcOutputOptions extends QueueOptions {
  /**
   * `host:port` or `unix:///path/to.sock`; or several `host:port` receivers (a DNS name with several
   * addresses counts as several): each producer uses one, picked at random, and moves to another
   * when it fails, resending what was not acked.
   */
  target: string | readonly string[];
  /** mTLS material (PEM text or file paths). Required for TCP targets unless `insecure`. */
  tls?: TlsOptions;
  /** Explicit opt-in to plaintext TCP. */
  insecure?: boolean;
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
  /**
   * Names this transmitter to the receiver. On the wire it gets a suffix new in every process
   * (`<producerId>#<8 hex>`), or kept by the spool directory: a restarted process, whose sequence
   * numbers start again, is never taken for the old one. Default a random UUID.
   */
  producerId?: string;
  /** Server name to verify in the receiver's certificate, when it differs from the target host. */
  serverName?: string;
}

export interface ResolvedOptions {
  sender: SenderConfig;
  /** The targets as given, comma-joined: the output's name. */
  label: string;
  queue: ResolvedQueue;
  warnInsecure: boolean;
  /** The producerId option as given, or null. */
  requestedProducerId: string | null;
}

/**
 * The producer id on the wire. Sequence numbers start at 1 in every process (without a spool), so
 * a name reused across restarts would make the receiver skip the new alerts as duplicates of the
 * old ones: each process adds its own incarnation. A spool directory keeps the first one it saw.
 */
export function wireProducerId(requested: string | undefined): string {
  if (requested === undefined) return randomUUID();
  if (typeof requested !== 'string' || requested === '') throw new TypeError('createGrpcOutput: producerId must be a non-empty string');
  return `${requested}#${randomBytes(4).toString('hex')}`;
}

const positive = (name: string, value: number | undefined, fallback: number, min = 1): number =>
  checked('createGrpcOutput', name, value, fallback, min);

export function resolveOptions(options: GrpcOutputOptions): ResolvedOptions {
  const targets = typeof options.target === 'string' ? [options.target] : options.target;
  if (!Array.isArray(targets) || targets.length === 0 || targets.some((t) => typeof t !== 'string' || t === '')) {
    throw new TypeError('createGrpcOutput: target is required ("host:port" or "unix:///path", or a list of host:port)');
  }
  const isUnix = targets[0]!.startsWith('unix:');
  if (targets.length > 1) {
    const bad = targets.find((t) => !/^(\[[^\]]+\]|[^:\s/]+):\d+$/.test(t));
    if (bad !== undefined) throw new TypeError(`createGrpcOutput: with several targets each must be host:port, got ${JSON.stringify(bad)}`);
  }
  if (!isUnix && !options.tls && !options.insecure) {
    throw new Error(
      `createGrpcOutput: ${targets.join(', ')} ${targets.length > 1 ? 'are TCP targets' : 'is a TCP target'}: give tls { ca, cert, key } for mTLS, or insecure: true for plaintext`,
    );
  }
  const tls = options.tls ? loadTls(options.tls) : null;
  return {
    label: targets.join(','),
    queue: resolveQueue('createGrpcOutput', options),
    warnInsecure: !isUnix && !tls,
    requestedProducerId: options.producerId ?? null,
    sender: {
      target: channelTarget(targets),
      tls,
      serverName: options.serverName,
      producerId: wireProducerId(options.producerId),
      batchBytes: positive('batchBytes', options.batchBytes, 1024 * 1024, 1024),
      batchAlerts: positive('batchAlerts', options.batchAlerts, 4096),
      lingerMs: positive('lingerMs', options.lingerMs, 2, 0),
      keepaliveMs: positive('keepaliveMs', options.keepaliveMs, 30_000, 0),
      reconnectInitialMs: positive('reconnectInitialMs', options.reconnectInitialMs, 200),
      reconnectMaxMs: positive('reconnectMaxMs', options.reconnectMaxMs, 30_000),
    },
  };
}
