// `falco-grpc-output flood`: synthetic alert floods through the transmitter.

import { writeFileSync } from 'node:fs';
import { Command } from 'commander';
import { runFlood, type LiveSample } from '../flood/flood.js';
import { parseFault } from '../flood/embedded-receiver.js';
import { renderHtmlReport } from '../flood/report-html.js';
import type { FloodReport } from '../flood/report-types.js';
import { addTlsFlags, tlsFromFlags, type TlsFlags } from './tls-flags.js';

interface FloodFlags extends TlsFlags {
  target?: string;
  embedded?: boolean;
  transport: string;
  rate: string;
  duration?: string;
  count?: string;
  mix: string;
  receiver: string;
  bufferBytes?: string;
  json?: boolean;
  report?: string;
}

function positiveNumber(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${flag} must be a positive number, got "${value}"`);
  return n;
}

function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) throw new Error(`${flag} must be one of ${allowed.join(', ')}, got "${value}"`);
  return value as T;
}

const f2 = (n: number): string => n.toFixed(2);

export function summary(r: FloodReport): string {
  return [
    `${r.peer} — ${r.scenario}`,
    `emitted ${r.emitted}, acked ${r.acked}, dropped ${r.dropped} (full ${r.drops.full}, too_large ${r.drops.too_large}, invalid ${r.drops.invalid}, rejected ${r.drops.rejected})`,
    `throughput ${Math.round(r.throughputPerSec)} alerts/s over ${f2(r.durationSec)} s; resent ${r.resent}, reconnects ${r.reconnects}`,
    `emit() µs: p50 ${f2(r.emitUs.p50)}  p90 ${f2(r.emitUs.p90)}  p99 ${f2(r.emitUs.p99)}  p99.9 ${f2(r.emitUs.p999)}  max ${f2(r.emitUs.max)}`,
    `event-loop delay ms: p50 ${f2(r.eventLoopDelayMs.p50)}  p99 ${f2(r.eventLoopDelayMs.p99)}  max ${f2(r.eventLoopDelayMs.max)}`,
    `main-thread CPU per alert ${f2(r.mainCpuUsPerAlert)} µs; delivery emit→ack ms p50 ${f2(r.deliveryMs.p50)} p99 ${f2(r.deliveryMs.p99)}; peak RSS ${Math.round(r.rssMaxMB)} MB`,
  ].join('\n');
}

/** One progress line: rewritten in place on a terminal, a plain line otherwise. */
function progressPrinter(): (s: LiveSample) => void {
  const tty = process.stderr.isTTY === true;
  let last = -1;
  return (s) => {
    if (Math.floor(s.tSec) === last) return; // once a second
    last = Math.floor(s.tSec);
    const line = `t=${s.tSec.toFixed(0)}s rate ${Math.round(s.ratePerSec)}/s acked ${s.acked ?? '?'} dropped ${s.dropped} ring ${(s.ringFill * 100).toFixed(0)}% emit p99 ${s.emitP99Us.toFixed(2)} µs`;
    process.stderr.write(tty ? `\r\x1b[2K${line}` : `${line}\n`);
  };
}

export function floodCommand(): Command {
  const cmd = new Command('flood')
    .description('send synthetic Falco alerts through the transmitter; report emit() latency, delivery and memory')
    .option('--target <addr>', 'receiver address (host:port or unix:///path); without it, --embedded')
    .option('--embedded', 'start a receiver in a child process (the default without --target)')
    .option('--transport <unix|mtls>', 'embedded receiver: unix socket or loopback mTLS with throwaway certificates', 'unix')
    .option('--rate <n|max>', 'alerts per second (paced open-loop), or max', '100000')
    .option('--duration <seconds>', 'how long to emit (default 5 unless --count)')
    .option('--count <n>', 'how many alerts to emit')
    .option('--mix <realistic|fixed>', 'realistic: default-rule names, weighted priorities, 300 B-4 KB with a rare 32 KB; fixed: the 630-byte reference alert', 'fixed')
    .option('--receiver <mode>', 'embedded receiver fault: none, stall:S, slow:MS, down, restart-every:S', 'none')
    .option('--buffer-bytes <n>', 'transmitter ring size')
    .option('--json', 'print the report as one JSON object on the last line of stdout')
    .option('--report <file.html>', 'write a self-contained HTML report with charts');
  addTlsFlags(cmd, 'client');
  return cmd.action(async (flags: FloodFlags) => {
    const fault = parseFault(flags.receiver);
    if (flags.target && fault.kind !== 'none') throw new Error('--receiver fault modes apply to the embedded receiver, not to --target');
    const tls = tlsFromFlags(flags) ?? undefined;
    const progress = progressPrinter();
    const report = await runFlood({
      rate: flags.rate === 'max' ? 'max' : positiveNumber('--rate', flags.rate),
      durationSec: flags.duration === undefined ? undefined : positiveNumber('--duration', flags.duration),
      count: flags.count === undefined ? undefined : positiveNumber('--count', flags.count),
      mix: oneOf('--mix', flags.mix, ['realistic', 'fixed'] as const),
      connection: flags.target && !flags.embedded ? { target: flags.target, tls, insecure: flags.insecure } : undefined,
      embeddedTransport: oneOf('--transport', flags.transport, ['unix', 'mtls'] as const),
      fault,
      outputOptions: {
        bufferBytes: flags.bufferBytes === undefined ? undefined : positiveNumber('--buffer-bytes', flags.bufferBytes),
      },
      onSample: progress,
      // Against a receiver that never comes up, waiting long for acks proves nothing.
      flushTimeoutMs: fault.kind === 'down' ? 1000 : 30_000,
    });
    if (process.stderr.isTTY) process.stderr.write('\n');
    if (flags.report) {
      writeFileSync(flags.report, renderHtmlReport('falco-grpc-output flood', [report], [`command: falco-grpc-output ${process.argv.slice(2).join(' ')}`]));
      process.stderr.write(`report written to ${flags.report}\n`);
    }
    process.stdout.write(flags.json ? `${JSON.stringify(report)}\n` : `${summary(report)}\n`);
    process.exitCode = report.flushed ? 0 : 1;
  });
}
