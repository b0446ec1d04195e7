// Creating outputs: one classic output (its own ring and worker thread, draining into a channel),
// and the fan-out that sends each alert to several outputs while encoding it only once.

import { AlertEncoder, AlertTooLargeError, type AlertInput } from '../codec/alert.js';
import type { GrpcOutputOptions } from '../transmitter/options.js';
import { createGrpcRingOutput } from '../transmitter/grpc-output.js';
import type { ChannelConfig } from './channels/index.js';
import type { FlushResult, Output, OutputStats, QueueOptions } from './output.js';
import { positive, resolveQueue } from './queue-options.js';
import { RingOutput } from './ring-output.js';
import type {
  FileOutputOptions,
  FormatOptions,
  HttpOutputOptions,
  ProgramOutputOptions,
  StdoutOutputOptions,
  SyslogOutputOptions,
} from './types.js';

export interface ClassicOutputOptions extends QueueOptions {
  /** json_output and json_include_*: how each alert becomes a line. Default: Falco's JSON with every property. */
  format?: FormatOptions;
  /** Most alerts handed to the channel at once. Default 1024. */
  batchAlerts?: number;
}

/** A classic output on its own ring and worker thread. */
export function createChannelOutput(channel: ChannelConfig, options: ClassicOutputOptions = {}): RingOutput {
  const who = `${channel.type} output`;
  checkChannel(channel);
  return new RingOutput(describe(channel), resolveQueue(who, options), {
    kind: 'channel',
    channel,
    format: options.format ?? {},
    batchAlerts: positive(who, 'batchAlerts', options.batchAlerts, 1024),
  });
}

export const createStdoutOutput = (options: StdoutOutputOptions & ClassicOutputOptions = {}): Output =>
  createChannelOutput({ type: 'stdout', options: pick(options, ['fd']) }, options);
export const createFileOutput = (options: FileOutputOptions & ClassicOutputOptions): Output =>
  createChannelOutput({ type: 'file', options: pick(options, ['filename', 'keepAlive']) }, options);
export const createProgramOutput = (options: ProgramOutputOptions & ClassicOutputOptions): Output =>
  createChannelOutput({ type: 'program', options: pick(options, ['program', 'keepAlive']) }, options);
export const createSyslogOutput = (options: SyslogOutputOptions & ClassicOutputOptions = {}): Output =>
  createChannelOutput({ type: 'syslog', options: pick(options, ['address', 'format', 'facility', 'appName']) }, options);
export const createHttpOutput = (options: HttpOutputOptions & ClassicOutputOptions): Output =>
  createChannelOutput(
    {
      type: 'http',
      options: pick(options, ['url', 'userAgent', 'insecure', 'caCert', 'caPath', 'mtls', 'clientCert', 'clientKey', 'keepAlive', 'maxConcurrency', 'maxAttempts', 'timeoutMs']),
    },
    options,
  );

/** Keeps only the channel's own keys: the rest (ring options, format) stay on the host. */
function pick<T extends object, K extends keyof T>(options: T, keys: readonly K[]): Pick<T, K> {
  const out = {} as Pick<T, K>;
  for (const key of keys) if (options[key] !== undefined) out[key] = options[key];
  return out;
}

function describe(channel: ChannelConfig): string {
  switch (channel.type) {
    case 'stdout':
      return channel.options.fd === undefined || channel.options.fd === 1 ? 'stdout' : `stdout fd ${channel.options.fd}`;
    case 'file':
      return `file ${channel.options.filename}`;
    case 'program':
      return `program "${channel.options.program}"`;
    case 'syslog':
      return `syslog ${channel.options.address ?? 'unix:///dev/log'}`;
    case 'http':
      return `http ${channel.options.url}`;
  }
}

/** What can be checked before a thread starts, so a mistake throws here and not in the worker. */
function checkChannel(channel: ChannelConfig): void {
  const need = (ok: boolean, message: string): void => {
    if (!ok) throw new TypeError(`${channel.type} output: ${message}`);
  };
  switch (channel.type) {
    case 'file':
      need(typeof channel.options.filename === 'string' && channel.options.filename !== '', 'filename is required');
      break;
    case 'program':
      need(typeof channel.options.program === 'string' && channel.options.program.trim() !== '', 'program is required (a shell command)');
      break;
    case 'http': {
      let url: URL | null = null;
      try {
        url = new URL(channel.options.url);
      } catch {
        // reported below
      }
      need(url !== null && (url.protocol === 'http:' || url.protocol === 'https:'), `url must be an http:// or https:// URL, got "${String(channel.options.url)}"`);
      break;
    }
    case 'syslog': {
      const { address, format } = channel.options;
      need(address === undefined || /^(unix|udp|tcp):\/\//.test(address), `address must be unix:///path, udp://host:port or tcp://host:port, got "${String(address)}"`);
      need(format === undefined || format === 'rfc5424' || format === 'rfc3164', `format must be rfc5424 or rfc3164, got "${String(format)}"`);
      break;
    }
    case 'stdout':
      break;
  }
}

export interface OutputsOptions extends ClassicOutputOptions {
  /** The gRPC transmitter; its own ring options default to the ones given here. */
  grpc?: GrpcOutputOptions;
  /** `true` or options: alerts on this process's stdout. */
  stdout?: StdoutOutputOptions | boolean;
  file?: FileOutputOptions;
  syslog?: SyslogOutputOptions | boolean;
  program?: ProgramOutputOptions;
  http?: HttpOutputOptions;
}

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
    // Refused before any output counts it, so the outputs' counts stay equal.
    for (const output of this.outputs) {
      if (output.closed) throw new Error(`falco-grpc-output: ${output.name}: emit() called after close()`);
    }
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
  const { grpc, stdout, file, syslog, program, http, ...shared } = options;
  const channels: ChannelConfig[] = [];
  if (stdout) channels.push({ type: 'stdout', options: stdout === true ? {} : stdout });
  if (file) channels.push({ type: 'file', options: file });
  if (syslog) channels.push({ type: 'syslog', options: syslog === true ? {} : syslog });
  if (program) channels.push({ type: 'program', options: program });
  if (http) channels.push({ type: 'http', options: http });
  const outputs: RingOutput[] = [];
  try {
    if (grpc) outputs.push(createGrpcRingOutput({ ...pick(shared, ['bufferBytes', 'maxAlertBytes', 'onFull', 'blockTimeoutMs', 'exitFlushMs']), ...grpc }));
    for (const channel of channels) outputs.push(createChannelOutput(channel, shared));
  } catch (err) {
    // An invalid option stops everything before the host emits; threads already started are stopped.
    for (const output of outputs) void output.close(0);
    throw err;
  }
  if (outputs.length === 0) throw new TypeError('createOutputs: no output enabled (grpc, stdout, file, syslog, program or http)');
  return new Outputs(outputs);
}
