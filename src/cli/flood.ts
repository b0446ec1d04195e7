// `falco-grpc-output flood`: synthetic alert floods through the transmitter.

import { writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Command } from 'commander';
import { runFlood, type FloodOptions, type LiveSample } from '../flood/flood.js';
import { parseFault, type ReceiverFault } from '../flood/embedded-receiver.js';
import { renderHtmlReport } from '../flood/report-html.js';
import type { FloodReport } from '../flood/report-types.js';
import { addTlsFlags, clientTls, type TlsFlags } from './tls-flags.js';
import { addressFlag, checkWritableDirectory, sizeFlag } from './flag-values.js';

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
  demo?: boolean;
}

/** The default pace: a storm of alerts for Falco, and a pace a busy 2-core machine sustains with room to spare. */
export const DEFAULT_RATE = 10_000;

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
const int = (n: number): string => Math.round(n).toLocaleString('en-US');
const mib = (bytes: number): string => (bytes >= 1024 * 1024 ? `${+(bytes / 1024 / 1024).toFixed(1)} MiB` : `${Math.round(bytes / 1024)} KiB`);

function dropReasons(r: FloodReport): string {
  const parts = Object.entries(r.drops).filter(([, n]) => (n ?? 0) > 0).map(([reason, n]) => `${reason} ${int(n ?? 0)}`);
  return parts.length > 0 ? ` (${parts.join(', ')})` : '';
}

/**
 * The report for a person: each number, what it means, and what good looks like. `--json` has
 * the same numbers for a machine.
 */
export function summary(r: FloodReport): string {
  const pad = (label: string, value: string, meaning: string): string => `  ${label.padEnd(11)}${value.padEnd(38)}  ${meaning}`;
  const acked = r.emitted > 0 ? ` (${((r.acked / r.emitted) * 100).toFixed(r.acked === 0 || r.acked === r.emitted ? 0 : 1)} %)` : '';
  const delivery = Number.isFinite(r.deliveryMs.p50)
    ? `p50 ${f2(r.deliveryMs.p50)} ms, p99 ${f2(r.deliveryMs.p99)} ms`
    : 'n/a: nothing was acknowledged';
  const ring = r.bufferBytes ? ` (${mib(r.bufferBytes)} buffer)` : '';
  const verdict =
    r.dropped === 0 && r.acked === r.emitted
      ? 'OK: every alert was acknowledged by the receiver and none was dropped.'
      : r.acked === 0
        ? `NOT DELIVERED: the receiver acknowledged nothing; ${int(r.dropped)} alert(s) are counted as dropped${dropReasons(r)}.`
        : `${int(r.dropped)} alert(s) dropped${dropReasons(r)}: ${r.drops.full > 0 ? `the buffer was full (the receiver did not keep up or stalled); emit() dropped and counted them instead of blocking` : 'see the reasons'}.`;
  return [
    `${r.peer} — ${r.scenario}`,
    pad('emitted', int(r.emitted), 'alerts handed to emit()'),
    pad('acked', `${int(r.acked)}${acked}`, 'confirmed by the receiver; good: all of them'),
    pad('dropped', `${int(r.dropped)}${dropReasons(r)}`, `counted and given up on${ring}; good: 0 while the receiver keeps up`),
    pad('throughput', `${int(r.throughputPerSec)} alerts/s over ${f2(r.durationSec)} s`, 'acknowledged per second, final flush included'),
    pad('emit()', `p50 ${f2(r.emitUs.p50)}  p99 ${f2(r.emitUs.p99)}  max ${f2(r.emitUs.max)} µs`, "the caller's cost per alert; good: p99 a few µs (max counts moments the OS gave the CPU to others)"),
    pad('event loop', `p50 ${f2(r.eventLoopDelayMs.p50)}  p99 ${f2(r.eventLoopDelayMs.p99)}  max ${f2(r.eventLoopDelayMs.max)} ms`, "how late the caller's timers ran; good: p50 under a ms, as without the transmitter"),
    pad('delivery', delivery, "emit() to the receiver's ack, every 64th alert"),
    pad('CPU, RSS', `${f2(r.mainCpuUsPerAlert)} µs/alert, peak ${Math.round(r.rssMaxMB)} MB`, "main thread's CPU per alert (the flood loop's own cost taken out); memory"),
    ...(r.resent > 0 || r.reconnects > 0 ? [pad('reconnects', `${int(r.reconnects)}, resent ${int(r.resent)}`, 'alerts sent again after a reconnect; the receiver skips what it has')] : []),
    verdict,
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

/** The second phase of --demo: a stall of the receiver with a small buffer, so the drops show. */
const DEMO_STALL = { seconds: 4, stallSeconds: 2, bufferBytes: 1024 * 1024 };

export function floodCommand(): Command {
  const cmd = new Command('flood')
    .description('send synthetic Falco alerts through the transmitter; report emit() latency, delivery and memory')
    .option('--target <addr>', 'receiver address (host:port or unix:///path); without it, --embedded')
    .option('--embedded', 'start a receiver in a child process (the default without --target)')
    .option('--transport <unix|mtls>', 'embedded receiver: unix socket or loopback mTLS with throwaway certificates', 'unix')
    .option('--rate <n|max>', 'alerts per second (paced open-loop), or max', String(DEFAULT_RATE))
    .option('--duration <seconds>', 'how long to emit (default 5 unless --count)')
    .option('--count <n>', 'how many alerts to emit')
    .option('--mix <realistic|fixed>', 'realistic: default-rule names, weighted priorities, 300 B-4 KB with a rare 32 KB; fixed: the 630-byte reference alert', 'fixed')
    .option('--receiver <mode>', 'embedded receiver fault: none, stall:S, slow:MS, down, restart-every:S', 'none')
    .option('--buffer-bytes <size>', 'transmitter ring size: bytes, or with a unit (1MiB)')
    .option('--demo', `a healthy run, then ${DEMO_STALL.seconds} s with the receiver stalled for ${DEMO_STALL.stallSeconds} s and a ${mib(DEMO_STALL.bufferBytes)} buffer, to show how drops are counted`)
    .option('--json', 'print the report as one JSON object on the last line of stdout')
    .option('--report <file.html>', 'write a self-contained HTML report with charts');
  addTlsFlags(cmd, 'client');
  return cmd.action(async (flags: FloodFlags) => {
    const fault = parseFault(flags.receiver);
    const external = flags.target !== undefined && !flags.embedded;
    if (external && fault.kind !== 'none') throw new Error('--receiver fault modes apply to the embedded receiver, not to --target');
    if (flags.demo && (external || fault.kind !== 'none' || flags.json)) throw new Error('--demo runs its own embedded receiver and faults, and prints for a person: leave out --target, --receiver and --json');
    // Checked before the run, not after it.
    if (flags.report) checkWritableDirectory(`--report ${flags.report}`, dirname(resolve(flags.report)), '');
    const target = external ? addressFlag('--target', flags.target!) : undefined;
    const tls = target === undefined ? undefined : clientTls(flags, target);
    const bufferBytes = flags.bufferBytes === undefined ? undefined : sizeFlag('--buffer-bytes', flags.bufferBytes);
    const base: FloodOptions = {
      rate: flags.rate === 'max' ? 'max' : positiveNumber('--rate', flags.rate),
      durationSec: flags.duration === undefined ? undefined : positiveNumber('--duration', flags.duration),
      count: flags.count === undefined ? undefined : positiveNumber('--count', flags.count),
      mix: oneOf('--mix', flags.mix, ['realistic', 'fixed'] as const),
      connection: target === undefined ? undefined : { target, tls, insecure: flags.insecure },
      embeddedTransport: oneOf('--transport', flags.transport, ['unix', 'mtls'] as const),
      fault,
      outputOptions: { bufferBytes },
      onSample: progressPrinter(),
      flushTimeoutMs: flushTimeoutFor(fault),
    };
    const reports = [await runPhase(base, flags)];
    if (flags.demo) {
      process.stdout.write(
        `\nNext: ${DEMO_STALL.seconds} s at the same pace with the receiver stalled for ${DEMO_STALL.stallSeconds} s ` +
          `(it takes alerts but stops acknowledging) and a ${mib(DEMO_STALL.bufferBytes)} buffer. The buffer fills, and emit() drops and counts ` +
          `instead of blocking the caller; when the receiver comes back the buffered alerts are delivered.\n\n`,
      );
      const stall: ReceiverFault = { kind: 'stall', seconds: DEMO_STALL.stallSeconds };
      reports.push(
        await runPhase({ ...base, durationSec: DEMO_STALL.seconds, count: undefined, fault: stall, outputOptions: { bufferBytes: DEMO_STALL.bufferBytes } }, flags),
      );
    }
    if (flags.report) {
      writeFileSync(flags.report, renderHtmlReport('falco-grpc-output flood', reports, [`command: falco-grpc-output ${process.argv.slice(2).join(' ')}`]));
      process.stderr.write(`report written to ${flags.report}\n`);
    }
    // The first phase decides: the demo's stall drops on purpose.
    process.exitCode = reports[0]!.flushed ? 0 : 1;
  });
}

/** Against a receiver that never comes up, waiting long for acks proves nothing. */
function flushTimeoutFor(fault: ReceiverFault): number {
  return fault.kind === 'down' ? 1000 : 30_000;
}

async function runPhase(options: FloodOptions, flags: FloodFlags): Promise<FloodReport> {
  const report = await runFlood(options);
  if (process.stderr.isTTY) process.stderr.write('\n');
  process.stdout.write(flags.json ? `${JSON.stringify(report)}\n` : `${summary(report)}\n`);
  return report;
}
