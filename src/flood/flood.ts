// A synthetic alert flood through the transmitter, with emit() latency measured per call.

import { createHistogram, monitorEventLoopDelay, type RecordableHistogram } from 'node:perf_hooks';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGrpcOutput, type OutputStats } from '../transmitter/grpc-output.js';
import type { GrpcOutputOptions } from '../transmitter/options.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { referenceAlert } from '../synthetic/alerts.js';

export interface FloodOptions {
  /** Transmitter options; omit `target` (or pass embedded) to flood an in-process receiver on a temp unix socket. */
  output?: Partial<GrpcOutputOptions>;
  embedded?: boolean;
  /** Alerts per second, or 'max'. */
  rate: number | 'max';
  durationSec?: number;
  count?: number;
  /** How long to wait for the final acks. Default 30 s. */
  flushTimeoutMs?: number;
}

export interface Percentiles {
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

export interface FloodReport {
  emitted: number;
  acked: number;
  dropped: number;
  drops: OutputStats['drops'];
  durationSec: number;
  throughputPerSec: number;
  emitUs: Percentiles;
  eventLoopDelayMs: Omit<Percentiles, 'p90' | 'p999'>;
  resent: number;
  reconnects: number;
  flushed: boolean;
}

function percentiles(h: RecordableHistogram | ReturnType<typeof monitorEventLoopDelay>, scale: number): Percentiles {
  const at = (p: number): number => (h.count === 0 ? 0 : h.percentile(p) / scale);
  return { p50: at(50), p90: at(90), p99: at(99), p999: at(99.9), max: h.count === 0 ? 0 : h.max / scale };
}

const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));

/**
 * The embedded receiver: `receive --discard` in a child process on a unix socket, so its
 * CPU is not the flooding thread's, as in a real deployment.
 */
async function startEmbeddedReceiver(socketPath: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [CLI, 'receive', '--listen', `unix://${socketPath}`, '--discard'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let said = '';
  await new Promise<void>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      said += d.toString();
      if (said.includes('listening on')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`embedded receiver exited with ${code}: ${said}`)));
  });
  return child;
}

export async function runFlood(opts: FloodOptions): Promise<FloodReport> {
  let receiver: ChildProcess | null = null;
  let socketDir: string | null = null;
  let outputOptions = opts.output ?? {};
  if (opts.embedded || !outputOptions.target) {
    socketDir = mkdtempSync(join(tmpdir(), 'falco-grpc-output-'));
    const socketPath = join(socketDir, 'receiver.sock');
    receiver = await startEmbeddedReceiver(socketPath);
    outputOptions = { ...outputOptions, target: `unix://${socketPath}`, tls: undefined, insecure: false };
  }
  const output = createGrpcOutput(outputOptions as GrpcOutputOptions);
  const emitNs = createHistogram();
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();

  const limit = opts.count ?? Infinity;
  const durationMs = (opts.durationSec ?? (opts.count === undefined ? 5 : Infinity)) * 1000;
  const start = performance.now();
  const baseNs = BigInt(Date.now()) * 1_000_000n;
  let seq = 0;
  // Open loop: each tick emits everything that is due by now, so lateness shows up as
  // bursts and latency instead of silently lowering the rate.
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const elapsed = performance.now() - start;
      if (seq >= limit || elapsed >= durationMs) return resolve();
      const due = opts.rate === 'max' ? seq + 2000 : Math.floor((elapsed / 1000) * opts.rate);
      const until = Math.min(due, limit);
      while (seq < until) {
        const alert = referenceAlert(seq, baseNs + BigInt(seq));
        const t0 = process.hrtime.bigint();
        output.emit(alert);
        emitNs.record(Number(process.hrtime.bigint() - t0) || 1);
        seq++;
      }
      setImmediate(tick);
    };
    tick();
  });
  const flushed = await output.flush(opts.flushTimeoutMs ?? 30_000);
  const elapsedSec = (performance.now() - start) / 1000;
  loopDelay.disable();
  const stats = output.stats();
  await output.close(1000);
  if (receiver) {
    const exited = new Promise((resolve) => receiver!.once('exit', resolve));
    receiver.kill('SIGTERM');
    await exited;
  }
  if (socketDir) rmSync(socketDir, { recursive: true, force: true });
  return {
    emitted: stats.emitted,
    acked: stats.acked,
    dropped: stats.dropped,
    drops: stats.drops,
    durationSec: elapsedSec,
    throughputPerSec: stats.acked / elapsedSec,
    emitUs: percentiles(emitNs, 1000),
    eventLoopDelayMs: (({ p50, p99, max }) => ({ p50, p99, max }))(percentiles(loopDelay, 1e6)),
    resent: stats.resent,
    reconnects: stats.reconnects,
    flushed: flushed.flushed,
  };
}
