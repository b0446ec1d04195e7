// Where `send` writes: gRPC from --target, plus every classic output a falco.yaml enables
// (`send --config`), all behind one fan-out; and the end-of-run summary over them.

import { createOutputs, type Outputs } from '../outputs/fan-out.js';
import type { OutputsConfig } from '../config/outputs-config.js';
import type { DropCounts } from '../host/output.js';
import type { SendCounters } from '../input/counters.js';
import { clientTls, type TlsFlags } from './tls-flags.js';
import { addressFlag, sizeFlag } from './flag-values.js';
import type { GrpcOutputOptions } from '../outputs/grpc-options.js';

export interface OutputFlags extends TlsFlags {
  /** One receiver or several (--target repeated); a config file gives one. */
  target?: string | string[];
  bufferBytes?: string | number;
  onFull?: string;
  spool?: string;
  spoolMaxBytes?: string | number;
  spoolWhenFull?: string;
  spoolFsync?: string;
}

/** The gRPC output's spool from --spool and its companions, or undefined without --spool. */
function spoolFromFlags(flags: OutputFlags): GrpcOutputOptions['spool'] {
  if (flags.spool === undefined) {
    const stray = flags.spoolMaxBytes !== undefined ? '--spool-max-bytes' : flags.spoolWhenFull !== undefined ? '--spool-when-full' : flags.spoolFsync !== undefined ? '--spool-fsync' : null;
    if (stray) throw new Error(`${stray} goes with --spool DIR`);
    return undefined;
  }
  const maxBytes = flags.spoolMaxBytes === undefined ? undefined : sizeFlag('--spool-max-bytes', flags.spoolMaxBytes);
  return {
    dir: flags.spool,
    maxBytes,
    whenFull: flags.spoolWhenFull as 'drop_newest' | 'drop_oldest' | undefined,
    fsync: flags.spoolFsync as 'interval' | 'always' | 'never' | undefined,
  };
}

/**
 * Reading lines with one output, send waits for ring space (a batch tool should not drop while
 * the receiver catches up). With several outputs, or serving HTTP, it drops and counts: a
 * blocked emit() would let one stalled channel hold up every other one, or the HTTP server.
 */
export function onFullFor(flags: OutputFlags, outputCount: number, servingHttp: boolean): 'block' | 'drop' {
  if (flags.onFull !== undefined) {
    if (flags.onFull !== 'block' && flags.onFull !== 'drop') throw new Error(`--on-full must be block or drop, got "${flags.onFull}"`);
    if (flags.onFull === 'block' && servingHttp) throw new Error('--on-full block does not go with --http-listen: a blocked emit() would freeze the HTTP server');
    return flags.onFull;
  }
  return outputCount === 1 && !servingHttp ? 'block' : 'drop';
}

export function countOutputs(flags: OutputFlags, classic: OutputsConfig | null): number {
  const enabled = classic ? [classic.stdout, classic.file, classic.syslog, classic.program, classic.http].filter(Boolean).length : 0;
  return enabled + (flags.target ? 1 : 0);
}

export function buildSendOutputs(flags: OutputFlags, classic: OutputsConfig | null, servingHttp: boolean): Outputs {
  const count = countOutputs(flags, classic);
  if (count === 0) {
    throw new Error(
      classic ? `the config enables no output and no --target was given: nothing to send to` : 'give --target (a receiver) or --config (a falco.yaml with outputs)',
    );
  }
  if (flags.spool !== undefined && !flags.target) {
    throw new Error("--spool is the gRPC output's (--target); a classic output takes spool: { dir } in its section of the config");
  }
  const bufferBytes = flags.bufferBytes === undefined ? undefined : sizeFlag('--buffer-bytes', flags.bufferBytes);
  // Several --target: failover between receivers; each checked on its own.
  const targets = flags.target === undefined ? [] : (Array.isArray(flags.target) ? flags.target : [flags.target]).map((t) => addressFlag('--target', t));
  const target = targets.length === 0 ? undefined : targets.length === 1 ? targets[0]! : targets;
  const onFull = onFullFor(flags, count, servingHttp);
  // Every target is checked (a TCP one needs mTLS or --insecure); the TLS options, when given, are the same for all.
  const tls = targets.map((t) => clientTls(flags, t)).find((options) => options !== undefined);
  return createOutputs({
    bufferBytes,
    onFull,
    blockTimeoutMs: 30_000,
    grpc: target ? { target, tls, insecure: flags.insecure, spool: spoolFromFlags(flags) } : undefined,
    ...(classic ? { format: classic.format, stdout: classic.stdout, file: classic.file, syslog: classic.syslog, program: classic.program, http: classic.http } : {}),
  });
}

/** What each drop reason means, for the summary. */
const DROP_WORDS: Record<keyof DropCounts, string> = {
  full: 'its buffer was full',
  too_large: 'larger than it takes',
  invalid: 'not a valid alert, also counted as malformed',
  rejected: 'refused by the receiver',
  failed: 'the channel gave up after its retries',
  unacked_at_close: 'still unacknowledged when --flush-timeout ran out',
  spool_full: 'the spool was at its maxBytes and whenFull gave it up',
  corrupt: 'damaged in the spool on disk',
};

/**
 * The summary lines and whether every valid alert reached every output. The numbers are the
 * outputs' stats, the same the metrics serve: emitted + replayed = acked + pending + dropped (by
 * reason); pending is 0 once closed, except what a spool keeps for the next run.
 */
export function summarize(outputs: Outputs, counters: SendCounters, words: (text: string) => string = (t) => t): { lines: string[]; ok: boolean } {
  const all = Object.entries(outputs.stats().outputs);
  const lines: string[] = [`read ${counters.read}, malformed ${counters.malformed}${all.length > 1 ? `, to ${all.length} outputs` : ''}`];
  let ok = true;
  for (const [name, s] of all) {
    const lost = s.dropped - s.drops.invalid;
    ok &&= lost === 0 && s.pending === 0;
    const reasons = (Object.entries(s.drops) as Array<[keyof DropCounts, number]>)
      .filter(([, n]) => n > 0)
      .map(([reason, n]) => `${reason} ${n}: ${DROP_WORDS[reason]}`);
    // With a spool, what is pending after close waits on disk for the next run (not a drop).
    const pending = s.pending > 0 ? `, pending ${s.pending}${s.spool ? ` (kept in the spool ${s.spool.dir} for the next run)` : ''}` : '';
    const replayed = s.replayed > 0 ? ` (+${s.replayed} from the spool of an earlier run)` : '';
    lines.push(`${name}: emitted ${s.emitted}${replayed}, acked ${s.acked}, dropped ${s.dropped}${pending}${reasons.length > 0 ? ` (${reasons.join('; ')})` : ''}`);
    if (s.lastError && lost > 0) lines.push(`${name}: last error: ${words(s.lastError)}`);
  }
  return { lines, ok };
}
