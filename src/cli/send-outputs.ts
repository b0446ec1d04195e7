// Where `send` writes: gRPC from --target, plus every classic output a falco.yaml enables
// (`send --config`), all behind one fan-out; and the end-of-run summary over them.

import { createOutputs, type Outputs } from '../outputs/fan-out.js';
import type { OutputsConfig } from '../config/outputs-config.js';
import type { SendCounters } from '../input/counters.js';
import { tlsFromFlags, type TlsFlags } from './tls-flags.js';

export interface OutputFlags extends TlsFlags {
  /** One receiver or several (--target repeated); a config file gives one. */
  target?: string | string[];
  bufferBytes?: string | number;
  onFull?: string;
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
  const bufferBytes = flags.bufferBytes === undefined ? undefined : Number(flags.bufferBytes);
  return createOutputs({
    bufferBytes,
    onFull: onFullFor(flags, count, servingHttp),
    blockTimeoutMs: 30_000,
    grpc: flags.target ? { target: flags.target, tls: tlsFromFlags(flags) ?? undefined, insecure: flags.insecure } : undefined,
    ...(classic ? { format: classic.format, stdout: classic.stdout, file: classic.file, syslog: classic.syslog, program: classic.program, http: classic.http } : {}),
  });
}

/** The summary lines and whether every valid alert reached every output. */
export function summarize(outputs: Outputs, counters: SendCounters): { lines: string[]; ok: boolean } {
  const all = Object.entries(outputs.stats().outputs);
  const lines: string[] = [];
  let ok = true;
  for (const [name, s] of all) {
    const valid = s.emitted - s.drops.invalid;
    const dropped = s.dropped - s.drops.invalid;
    ok &&= s.acked === valid;
    const reasons = Object.entries(s.drops)
      .filter(([reason, n]) => n > 0 && reason !== 'invalid')
      .map(([reason, n]) => `${reason} ${n}`);
    const detail = `sent ${valid}, acked ${s.acked}, dropped ${dropped}`;
    const why = `${reasons.length > 0 ? ` (${reasons.join(', ')})` : ''}${s.lastError && dropped > 0 ? `; last error: ${s.lastError}` : ''}`;
    if (all.length > 1) lines.push(`${name}: ${detail}${why}`);
    else {
      lines.push(`read ${counters.read}, ${detail}, malformed ${counters.malformed}`);
      if (why !== '') lines.push(`dropped${why}`);
    }
  }
  if (all.length > 1) lines.unshift(`read ${counters.read}, malformed ${counters.malformed}, to ${all.length} outputs`);
  return { lines, ok };
}
