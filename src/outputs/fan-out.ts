// The fan-out: several outputs behind one emit(), each alert encoded once on the calling thread
// and copied into every output's ring, so a stalled output loses only its own copies.

import { AlertEncoder, AlertTooLargeError, type AlertInput } from '../codec/alert.js';
import { checkEncodedAlert } from '../codec/publish-request.js';
import type { FlushResult, OutputStats } from '../host/output.js';
import type { RingOutput } from '../host/ring-output.js';
import type { ChannelConfig, ChannelOptions, ChannelType } from '../destinations/channels/registry.js';
import { CHANNEL_TYPES, createChannelOutput, type ClassicOutputOptions } from './classic-outputs.js';
import { createGrpcRingOutput } from './grpc-output.js';
import type { GrpcOutputOptions } from './grpc-options.js';
import type { SpoolOptions } from '../spool/options.js';

/** Channels whose options are all optional may be turned on with `true`; `spool` is the channel's own spool directory. */
type ChannelSetting<T extends ChannelType> =
  | (ChannelOptions<T> & { spool?: SpoolOptions })
  | (Partial<ChannelOptions<T>> extends ChannelOptions<T> ? boolean : never);

export type OutputsOptions = ClassicOutputOptions & {
  /** The gRPC transmitter; its own ring options default to the ones given here. */
  grpc?: GrpcOutputOptions;
} & {
  /** A classic output by its channel's name (stdout, file, syslog, program, http): its options, or `true` where none are required. */
  [T in ChannelType]?: ChannelSetting<T>;
};

export interface OutputsStats {
  /** Every emit() call on the fan-out. */
  emitted: number;
  /** Each output's own counts, by its name. */
  outputs: Record<string, OutputStats>;
}

/** Several outputs behind one emit(): each alert is encoded once and copied into every output's ring. */
export class Outputs {
  private readonly encoder: AlertEncoder;
  private emitted = 0;

  constructor(readonly outputs: readonly RingOutput[]) {
    // Large enough for the most generous output; each output still drops what exceeds its own limit.
    this.encoder = new AlertEncoder(Math.max(...outputs.map((o) => o.maxAlertBytes)));
  }

  /** True when every output took the alert; an output with a full ring drops and counts only its own copy. */
  emit(alert: AlertInput): boolean {
    this.checkOpen();
    this.emitted++;
    let length: number;
    try {
      length = this.encoder.encode(alert);
    } catch (err) {
      const reason = err instanceof AlertTooLargeError ? 'too_large' : 'invalid';
      for (const output of this.outputs) output.countUnencodable(reason);
      if (reason === 'too_large') return false;
      throw err;
    }
    let all = true;
    for (const output of this.outputs) all = output.emitEncoded(this.encoder.scratch, length) && all;
    return all;
  }

  /**
   * An alert already encoded as falco.outputs.response (read from the bus, say): checked as the
   * receiver checks alerts, then copied into every ring. A malformed one counts as an invalid
   * drop in every output and throws MalformedMessageError.
   */
  emitEncoded(bytes: Buffer): boolean {
    this.checkOpen();
    this.emitted++;
    try {
      checkEncodedAlert(bytes);
    } catch (err) {
      for (const output of this.outputs) output.countUnencodable('invalid');
      throw err;
    }
    let all = true;
    for (const output of this.outputs) all = output.emitEncoded(bytes, bytes.length) && all;
    return all;
  }

  /** Refused before any output counts it, so the outputs' counts stay equal. */
  private checkOpen(): void {
    for (const output of this.outputs) {
      if (output.closed) throw new Error(`falco-grpc-output: ${output.name}: emit() called after close()`);
    }
  }

  async flush(timeoutMs?: number): Promise<FlushResult> {
    return sum(await Promise.all(this.outputs.map((o) => o.flush(timeoutMs))));
  }

  async close(timeoutMs?: number): Promise<FlushResult> {
    return sum(await Promise.all(this.outputs.map((o) => o.close(timeoutMs))));
  }

  /** Reopens files (after logrotate's SIGHUP). */
  async reopen(): Promise<void> {
    await Promise.all(this.outputs.map((o) => o.reopen()));
  }

  stats(): OutputsStats {
    return { emitted: this.emitted, outputs: Object.fromEntries(this.outputs.map((o) => [o.name, o.stats()])) };
  }
}

function sum(results: readonly FlushResult[]): FlushResult {
  return { flushed: results.every((r) => r.flushed), pending: results.reduce((n, r) => n + r.pending, 0) };
}

/** Builds every output the options enable, behind one fan-out. */
export function createOutputs(options: OutputsOptions): Outputs {
  const { grpc } = options;
  if (options.spool !== undefined) {
    throw new TypeError(`createOutputs: spool goes in each output's own settings (grpc: { spool }, file: { spool }, ...): one directory per output`);
  }
  const shared: ClassicOutputOptions = { ...options };
  const channels: ChannelConfig[] = [];
  for (const type of CHANNEL_TYPES) {
    const setting = options[type];
    delete (shared as Record<string, unknown>)[type];
    if (setting) channels.push({ type, options: setting === true ? {} : setting } as ChannelConfig);
  }
  delete (shared as Record<string, unknown>).grpc;
  const outputs: RingOutput[] = [];
  try {
    if (grpc) {
      const { format: _format, batchAlerts: _batch, ...ring } = shared;
      outputs.push(createGrpcRingOutput({ ...ring, ...grpc }));
    }
    for (const channel of channels) outputs.push(createChannelOutput(channel, shared));
  } catch (err) {
    // An invalid option stops everything before the host emits; threads already started are stopped.
    for (const output of outputs) void output.close(0);
    throw err;
  }
  if (outputs.length === 0) throw new TypeError(`createOutputs: no output enabled (grpc, ${CHANNEL_TYPES.join(', ')})`);
  return new Outputs(outputs);
}
