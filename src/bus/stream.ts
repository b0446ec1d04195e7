// The stream every receiver publishes to: created when missing, checked when it exists. Two
// receivers may start at once, so "already in use" on create means "someone else made it: check it".

import { nanos } from '@nats-io/transport-node';
import {
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  type JetStreamManager,
  type StreamConfig,
  type StreamInfo,
} from '@nats-io/jetstream';

/**
 * The transmitter's default longest reconnect delay (createGrpcOutput's reconnectMaxMs). An alert
 * can be published twice only by a resend, and a resend follows its first publish by at most the
 * detection of a dead receiver plus one reconnect delay; the duplicate window must outlast both.
 */
export const TRANSMITTER_RECONNECT_MAX_MS = 30_000;

export const STREAM_DEFAULTS = {
  replicas: 1,
  /** Alerts older than this leave the stream. */
  maxAgeMs: 24 * 60 * 60 * 1000,
  /** The stream's size on disk (per replica); the oldest alerts go first. */
  maxBytes: 1024 ** 3,
  /**
   * Resends within this window are recognised by Nats-Msg-Id and not stored again. 120 s covers
   * a dead connection found by keepalive (30 s + 20 s timeout), the longest reconnect delay
   * (30 s) and the resend itself, with 40 s to spare.
   */
  duplicateWindowMs: 120_000,
} as const;

/** The shortest duplicate window accepted: twice the transmitter's longest reconnect delay. */
export const MIN_DUPLICATE_WINDOW_MS = 2 * TRANSMITTER_RECONNECT_MAX_MS;

export interface StreamSettings {
  name: string;
  subjectPrefix: string;
  /** Settings left undefined take STREAM_DEFAULTS when the stream is created, and are not compared when it exists. */
  replicas?: number;
  maxAgeMs?: number;
  maxBytes?: number;
  duplicateWindowMs?: number;
}

/** The config key of each setting, for messages (falco_grpc_output.receive.nats.<key>). */
const KEYS = {
  replicas: 'replicas',
  maxAgeMs: 'max_age_ms',
  maxBytes: 'max_bytes',
  duplicateWindowMs: 'duplicate_window_ms',
  subjectPrefix: 'subject_prefix',
} as const;

/** An existing stream whose config cannot carry the bus contract, or differs from what was asked. */
export class StreamConflictError extends Error {
  constructor(
    readonly stream: string,
    readonly conflicts: readonly string[],
  ) {
    super(`stream ${stream} exists with a conflicting config: ${conflicts.join('; ')}. Change the stream (nats stream edit ${stream}) or the setting`);
    this.name = 'StreamConflictError';
  }
}

const NS_PER_MS = 1_000_000;

function ms(ns: number): string {
  const value = ns / NS_PER_MS;
  return value % 1000 === 0 ? `${value / 1000} s` : `${value} ms`;
}

export function checkStreamSettings(s: StreamSettings): void {
  const window = s.duplicateWindowMs ?? STREAM_DEFAULTS.duplicateWindowMs;
  if (window < MIN_DUPLICATE_WINDOW_MS) {
    throw new RangeError(
      `nats ${KEYS.duplicateWindowMs} must be at least ${MIN_DUPLICATE_WINDOW_MS} ms (twice the transmitter's longest reconnect delay, ${TRANSMITTER_RECONNECT_MAX_MS} ms), got ${window}: resends after a failover would be stored twice`,
    );
  }
  const age = s.maxAgeMs ?? STREAM_DEFAULTS.maxAgeMs;
  if (age < window) throw new RangeError(`nats ${KEYS.maxAgeMs} (${age}) must not be shorter than ${KEYS.duplicateWindowMs} (${window})`);
  const replicas = s.replicas ?? STREAM_DEFAULTS.replicas;
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > 5) throw new RangeError(`nats ${KEYS.replicas} must be 1 to 5, got ${replicas}`);
}

function wantedConfig(s: StreamSettings): Partial<StreamConfig> & { name: string } {
  return {
    name: s.name,
    subjects: [`${s.subjectPrefix}.>`],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    num_replicas: s.replicas ?? STREAM_DEFAULTS.replicas,
    max_age: nanos(s.maxAgeMs ?? STREAM_DEFAULTS.maxAgeMs),
    max_bytes: s.maxBytes ?? STREAM_DEFAULTS.maxBytes,
    duplicate_window: nanos(s.duplicateWindowMs ?? STREAM_DEFAULTS.duplicateWindowMs),
  };
}

/** True when a stream subject (possibly with wildcards) takes every subject under `prefix`. */
function covers(pattern: string, prefix: string): boolean {
  const p = pattern.split('.');
  const want = [...prefix.split('.'), '>'];
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return true;
    if (i >= want.length || want[i] === '>') return false;
    if (p[i] !== '*' && p[i] !== want[i]) return false;
  }
  return false;
}

/** What in an existing stream's config breaks the contract or differs from an explicit setting. */
export function streamConflicts(config: StreamConfig, s: StreamSettings): string[] {
  const out: string[] = [];
  if (!config.subjects?.some((subject) => covers(subject, s.subjectPrefix))) {
    out.push(`subjects are [${(config.subjects ?? []).join(', ')}], none takes ${s.subjectPrefix}.> (${KEYS.subjectPrefix})`);
  }
  if (config.storage !== StorageType.File) out.push(`storage is ${config.storage}, alerts need file storage to be durable`);
  if (config.retention !== RetentionPolicy.Limits) {
    out.push(`retention is ${config.retention}, needs limits (other policies delete alerts that sub, get and other consumers still need)`);
  }
  if (config.discard !== DiscardPolicy.Old) out.push(`discard is ${config.discard}, needs old (a full stream must not refuse new alerts)`);
  if (config.no_ack) out.push('no_ack is set: receivers could never know an alert is stored');
  if (config.sealed) out.push('the stream is sealed');
  const window = config.duplicate_window ?? 0;
  if (s.duplicateWindowMs !== undefined ? window !== nanos(s.duplicateWindowMs) : window < nanos(MIN_DUPLICATE_WINDOW_MS)) {
    const want = s.duplicateWindowMs !== undefined ? ms(nanos(s.duplicateWindowMs)) : `at least ${ms(nanos(MIN_DUPLICATE_WINDOW_MS))}`;
    out.push(`duplicate_window is ${ms(window)}, needs ${want} (${KEYS.duplicateWindowMs})`);
  }
  if (s.replicas !== undefined && config.num_replicas !== s.replicas) out.push(`num_replicas is ${config.num_replicas}, asked for ${s.replicas} (${KEYS.replicas})`);
  if (s.maxAgeMs !== undefined && config.max_age !== nanos(s.maxAgeMs)) out.push(`max_age is ${ms(config.max_age)}, asked for ${ms(nanos(s.maxAgeMs))} (${KEYS.maxAgeMs})`);
  if (s.maxBytes !== undefined && config.max_bytes !== s.maxBytes) out.push(`max_bytes is ${config.max_bytes}, asked for ${s.maxBytes} (${KEYS.maxBytes})`);
  return out;
}

function isApiError(err: unknown, code: number): boolean {
  return err instanceof JetStreamApiError && err.code === code;
}

/** Error code JetStream answers a create with when the name is taken. */
const STREAM_NAME_IN_USE = 10058;

/** The stream, created with the settings when missing; a StreamConflictError when it exists and does not fit. */
export async function ensureStream(jsm: JetStreamManager, s: StreamSettings): Promise<StreamInfo> {
  for (let attempt = 0; ; attempt++) {
    let info: StreamInfo | null = null;
    try {
      info = await jsm.streams.info(s.name);
    } catch (err) {
      if (!isApiError(err, JetStreamApiCodes.StreamNotFound)) throw err;
    }
    if (info) {
      const conflicts = streamConflicts(info.config, s);
      if (conflicts.length > 0) throw new StreamConflictError(s.name, conflicts);
      return info;
    }
    try {
      return await jsm.streams.add(wantedConfig(s));
    } catch (err) {
      // Another receiver created it between our info and add: check theirs.
      if (attempt === 0 && isApiError(err, STREAM_NAME_IN_USE)) continue;
      throw new Error(`cannot create stream ${s.name}: ${(err as Error).message}`);
    }
  }
}
