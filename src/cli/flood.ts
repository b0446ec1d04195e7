// `falco-grpc-output flood`: synthetic alert floods through the transmitter.

import { Command } from 'commander';
import { runFlood, type FloodReport } from '../flood/flood.js';
import { addTlsFlags, tlsFromFlags, type TlsFlags } from './tls-flags.js';

interface FloodFlags extends TlsFlags {
  target?: string;
  embedded?: boolean;
  rate: string;
  duration?: string;
  count?: string;
  bufferBytes?: string;
  json?: boolean;
}

function positiveNumber(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${flag} must be a positive number, got "${value}"`);
  return n;
}

function summary(r: FloodReport): string {
  const f = (n: number): string => n.toFixed(2);
  return [
    `emitted ${r.emitted}, acked ${r.acked}, dropped ${r.dropped} (full ${r.drops.full}, too_large ${r.drops.too_large}, invalid ${r.drops.invalid}, rejected ${r.drops.rejected})`,
    `throughput ${Math.round(r.throughputPerSec)} alerts/s over ${f(r.durationSec)} s; resent ${r.resent}, reconnects ${r.reconnects}`,
    `emit() us: p50 ${f(r.emitUs.p50)}  p90 ${f(r.emitUs.p90)}  p99 ${f(r.emitUs.p99)}  p99.9 ${f(r.emitUs.p999)}  max ${f(r.emitUs.max)}`,
    `event-loop delay ms: p50 ${f(r.eventLoopDelayMs.p50)}  p99 ${f(r.eventLoopDelayMs.p99)}  max ${f(r.eventLoopDelayMs.max)}`,
  ].join('\n');
}

export function floodCommand(): Command {
  const cmd = new Command('flood')
    .description('send synthetic Falco alerts through the transmitter and report emit() latency and delivery')
    .option('--target <addr>', 'receiver address (host:port or unix:///path)')
    .option('--embedded', 'flood an in-process receiver on a temporary unix socket (the default without --target)')
    .option('--rate <n|max>', 'alerts per second, or max', '100000')
    .option('--duration <seconds>', 'how long to emit (default 5 unless --count)')
    .option('--count <n>', 'how many alerts to emit')
    .option('--buffer-bytes <n>', 'transmitter ring size')
    .option('--json', 'print the report as one JSON object');
  addTlsFlags(cmd, 'client');
  return cmd.action(async (flags: FloodFlags) => {
    const report = await runFlood({
      embedded: flags.embedded ?? !flags.target,
      rate: flags.rate === 'max' ? 'max' : positiveNumber('--rate', flags.rate),
      durationSec: flags.duration === undefined ? undefined : positiveNumber('--duration', flags.duration),
      count: flags.count === undefined ? undefined : positiveNumber('--count', flags.count),
      output: {
        target: flags.target,
        tls: tlsFromFlags(flags) ?? undefined,
        insecure: flags.insecure,
        bufferBytes: flags.bufferBytes === undefined ? undefined : positiveNumber('--buffer-bytes', flags.bufferBytes),
      },
    });
    process.stdout.write(flags.json ? `${JSON.stringify(report)}\n` : `${summary(report)}\n`);
    process.exitCode = report.flushed ? 0 : 1;
  });
}
