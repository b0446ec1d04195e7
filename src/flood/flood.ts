// A synthetic alert flood: paced open-loop emits through a FloodTarget (by default this
// project's transmitter), timing every emit() call, sampling throughput, buffer fill, drops
// and memory, and measuring delivery latency from emit to acknowledgement.

import { createHistogram, monitorEventLoopDelay, type RecordableHistogram, type IntervalHistogram } from 'node:perf_hooks';
import { createGrpcOutput } from '../outputs/grpc-output.js';
import type { GrpcOutputOptions } from '../outputs/grpc-options.js';
import type { AlertInput } from '../codec/alert.js';
import { referenceAlert } from '../synthetic/alerts.js';
import { fromPool, realisticPool } from '../synthetic/mix.js';
import { EmbeddedReceiver, type ReceiverFault } from './embedded-receiver.js';
import { mainThreadCpuMicros } from './main-thread-cpu.js';
import type { FloodConnection, FloodProgress, FloodTarget, FloodTargetFactory } from './target.js';
import type { FloodReport, FloodSeries, Percentiles } from './report-types.js';

export interface FloodOptions {
  /** Alerts per second, or 'max'. */
  rate: number | 'max';
  /** Emit for this long (default 5 s unless `count` is given). */
  durationSec?: number;
  /** Paced runs: emit what is due every this many ms. Default 1; a low rate wants longer ticks, or the loop's own wake-ups dwarf what emit() costs. */
  tickMs?: number;
  count?: number;
  /** 'fixed': the 630-byte reference alert; 'realistic': the default-rule mix. */
  mix?: 'fixed' | 'realistic';
  /** Flood this receiver; without it, an embedded one is started. */
  connection?: FloodConnection;
  /** The embedded receiver's transport. Default 'unix'. */
  embeddedTransport?: 'unix' | 'mtls';
  /** Embedded receiver fault mode. */
  fault?: ReceiverFault;
  /** What to drive; default this project's transmitter with `outputOptions`. */
  targetFactory?: FloodTargetFactory;
  outputOptions?: Partial<GrpcOutputOptions>;
  /** How long to wait for the final acks. Default 30 s. */
  flushTimeoutMs?: number;
  sampleMs?: number;
  peer?: string;
  scenario?: string;
  /** Called once per sample with live numbers (for a progress line). */
  onSample?: (sample: LiveSample) => void;
}

export interface LiveSample {
  tSec: number;
  ratePerSec: number;
  acked: number | null;
  dropped: number;
  ringFill: number;
  emitP99Us: number;
}

/** The default target: this project's transmitter. */
export function grpcOutputTarget(options: Partial<GrpcOutputOptions> = {}): FloodTargetFactory {
  return (connection) => {
    const output = createGrpcOutput({ ...options, ...connection } as GrpcOutputOptions);
    return {
      emit: (alert) => output.emit(alert),
      progress: (): FloodProgress => {
        const s = output.stats();
        return {
          acked: s.acked,
          ackedSeq: s.acked + s.drops.rejected,
          dropped: s.dropped,
          drops: s.drops,
          pendingBytes: s.pendingBytes,
          capacityBytes: s.bufferBytes,
          resent: s.resent,
          reconnects: s.reconnects,
        };
      },
      flush: async (timeoutMs) => (await output.flush(timeoutMs)).flushed,
      close: async () => {
        await output.close(1000);
      },
    };
  };
}

const SEQ_SAMPLE_EVERY = 64; // delivery latency is measured on every 64th accepted alert

function percentilesOf(h: RecordableHistogram | IntervalHistogram, scale: number): Percentiles {
  if (h.count === 0) return { p50: 0, p90: 0, p99: 0, p999: 0, max: 0 };
  const at = (p: number): number => h.percentile(p) / scale;
  return { p50: at(50), p90: at(90), p99: at(99), p999: at(99.9), max: h.max / scale };
}

function emptySeries(): FloodSeries {
  return { tSec: [], emittedPerSec: [], ackedPerSec: [], droppedPerSec: [], ringFill: [], rssMB: [], emitP99Us: [] };
}

interface Pacing {
  rate: number | 'max';
  durationMs: number;
  limit: number;
  tickMs: number;
}

/** Most alerts one macrotask emits before it yields: a late tick catches up in slices, not in one long stall. */
const MAX_BURST = 1000;

/**
 * The open loop: each tick calls emitOne for every alert due by now, so lateness becomes
 * bursts and latency in the report instead of a silently lower rate. A backlog is emitted
 * MAX_BURST at a time with a yield between slices, so the loop never blocks its own thread for
 * long (it would measure its own stall as the event-loop delay). Resolves with the count.
 * At max rate, an alert the target drops ends the burst and the loop sleeps a millisecond:
 * emitting into a full buffer only to drop would take the CPU the worker and the receiver need
 * to empty it (on two cores, a third of what they get), and measure the flood itself.
 */
function paceEmits(pacing: Pacing, emitOne: (seq: number) => boolean, afterTick: () => void): Promise<number> {
  const start = performance.now();
  let seq = 0;
  return new Promise((resolve) => {
    const tick = (): void => {
      const elapsed = performance.now() - start;
      const over = elapsed >= pacing.durationMs;
      // A paced run's last tick still emits what fell due before the end, however late it
      // comes: the count is rate x duration, not what the loop's timing happened to allow.
      if (seq >= pacing.limit || (over && pacing.rate === 'max')) return resolve(seq);
      const due = pacing.rate === 'max' ? seq + MAX_BURST : Math.floor((Math.min(elapsed, pacing.durationMs) / 1000) * pacing.rate);
      const until = Math.min(due, pacing.limit, seq + MAX_BURST);
      let full = false;
      while (seq < until && !full) full = !emitOne(seq++) && pacing.rate === 'max';
      afterTick();
      const behind = !full && until < Math.min(due, pacing.limit);
      if (over && !behind) return resolve(seq);
      // Yield to timers (the sampler, the receiver's control) between bursts; at once when behind.
      if (full) setTimeout(tick, 1);
      else if (pacing.rate === 'max' || behind) setImmediate(tick);
      else setTimeout(tick, pacing.tickMs);
    };
    tick();
  });
}

/** How long the no-op calibration runs at a paced run's own pace. */
const CALIBRATION_MS = 1000;
/** The event-loop delay monitor's sampling interval; Node's histogram includes it in every sample. */
const LOOP_RESOLUTION_MS = 10;

/**
 * Main-thread CPU per alert of the flood machinery itself (the paced loop, making the alert,
 * timing and recording the call) with an emit() that does nothing, at the run's own pace;
 * subtracted so the report shows what the peer costs.
 */
async function calibrateLoopCpu(pacing: Pacing, makeAlert: (seq: number, ns: bigint) => AlertInput): Promise<number> {
  const h = createHistogram();
  const noop = (alert: AlertInput): boolean => alert !== null;
  const base = BigInt(Date.now()) * 1_000_000n;
  const cpu0 = mainThreadCpuMicros();
  const n = await paceEmits(
    pacing.rate === 'max' ? { rate: 'max', durationMs: Infinity, limit: 200_000, tickMs: 0 } : { ...pacing, durationMs: Math.min(CALIBRATION_MS, pacing.durationMs) },
    (i) => {
      const alert = makeAlert(i, base + BigInt(i));
      const t0 = process.hrtime.bigint();
      const ok = noop(alert);
      h.record(Number(process.hrtime.bigint() - t0) || 1);
      return ok;
    },
    () => {},
  );
  return n > 0 ? (mainThreadCpuMicros() - cpu0) / n : 0;
}

export async function runFlood(opts: FloodOptions): Promise<FloodReport> {
  const fault = opts.fault ?? { kind: 'none' };
  const embedded = opts.connection ? null : new EmbeddedReceiver(opts.embeddedTransport ?? 'unix');
  const connection = opts.connection ?? (await embedded!.start(fault));
  const target: FloodTarget = await (opts.targetFactory ?? grpcOutputTarget(opts.outputOptions))(connection);
  const pool = opts.mix === 'realistic' ? realisticPool() : null;
  const makeAlert = (seq: number, ns: bigint): AlertInput => (pool ? fromPool(pool, seq, ns) : referenceAlert(seq, ns));

  const emitNs = createHistogram();
  const intervalEmitNs = createHistogram();
  const deliveryMs = createHistogram();
  const loopDelay = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  const series = emptySeries();
  const sampleMs = opts.sampleMs ?? 250;
  const limit = opts.count ?? Infinity;
  const durationMs = (opts.durationSec ?? (opts.count === undefined ? 5 : Infinity)) * 1000;

  // Delivery latency: emit times of sampled alerts, by their sequence number among accepted ones.
  const pendingSeqs: number[] = [];
  const pendingTimes: number[] = [];
  let accepted = 0;
  let lastSample = { t: 0, accepted: 0, acked: 0, dropped: 0 };
  let rssMaxMB = 0;

  /** Records delivery latency for sampled alerts acknowledged by now (performance.now()). */
  const resolveDeliveries = (progress: FloodProgress): void => {
    if (progress.ackedSeq === null || pendingSeqs.length === 0) return;
    const now = performance.now();
    let i = 0;
    while (i < pendingSeqs.length && pendingSeqs[i]! <= progress.ackedSeq) {
      deliveryMs.record(Math.max(1, Math.round((now - pendingTimes[i]!) * 1000))); // µs resolution
      i++;
    }
    if (i > 0) {
      pendingSeqs.splice(0, i);
      pendingTimes.splice(0, i);
    }
  };

  const sample = (now: number): void => {
    const progress = target.progress();
    resolveDeliveries(progress);
    const dt = (now - lastSample.t) / 1000;
    const acked = progress.acked ?? 0;
    const rss = process.memoryUsage.rss() / 1e6;
    rssMaxMB = Math.max(rssMaxMB, rss);
    const fill = progress.capacityBytes > 0 ? progress.pendingBytes / progress.capacityBytes : 0;
    const p99 = intervalEmitNs.count > 0 ? intervalEmitNs.percentile(99) / 1000 : 0;
    if (dt > 0) {
      series.tSec.push(now / 1000);
      series.emittedPerSec.push((accepted - lastSample.accepted) / dt);
      series.ackedPerSec.push((acked - lastSample.acked) / dt);
      series.droppedPerSec.push((progress.dropped - lastSample.dropped) / dt);
      series.ringFill.push(fill);
      series.rssMB.push(rss);
      series.emitP99Us.push(p99);
    }
    opts.onSample?.({
      tSec: now / 1000,
      ratePerSec: dt > 0 ? (accepted - lastSample.accepted) / dt : 0,
      acked: progress.acked,
      dropped: progress.dropped,
      ringFill: fill,
      emitP99Us: p99,
    });
    intervalEmitNs.reset();
    lastSample = { t: now, accepted, acked, dropped: progress.dropped };
  };

  // Fault schedule, relative to the start of emitting.
  const faultTimers: NodeJS.Timeout[] = [];
  const scheduleFaults = (): void => {
    if (!embedded) return;
    if (fault.kind === 'stall') {
      // Mid-run for a timed flood; after 1 s when only a count bounds it.
      const startMs = Number.isFinite(durationMs) ? Math.max(0, (durationMs - fault.seconds * 1000) / 2) : 1000;
      faultTimers.push(setTimeout(() => embedded.control('stall'), startMs));
      faultTimers.push(setTimeout(() => embedded.control('resume'), startMs + fault.seconds * 1000));
    } else if (fault.kind === 'restart-every') {
      const timer = setInterval(() => void embedded.restart(), fault.seconds * 1000);
      faultTimers.push(timer);
    }
  };

  const pacing: Pacing = { rate: opts.rate, durationMs, limit, tickMs: opts.tickMs ?? 1 };
  const loopCpuUs = await calibrateLoopCpu(pacing, makeAlert);
  loopDelay.enable();
  const cpuStart = mainThreadCpuMicros();
  const processCpuStart = process.cpuUsage();
  const start = performance.now();
  const baseNs = BigInt(Date.now()) * 1_000_000n;
  scheduleFaults();
  const sampler = setInterval(() => sample(performance.now() - start), sampleMs);

  const emitted = await paceEmits(
    pacing,
    (i) => {
      const alert = makeAlert(i, baseNs + BigInt(i));
      const t0 = process.hrtime.bigint();
      const ok = target.emit(alert);
      const ns = Number(process.hrtime.bigint() - t0) || 1;
      emitNs.record(ns);
      intervalEmitNs.record(ns);
      if (ok) {
        accepted++;
        if (accepted % SEQ_SAMPLE_EVERY === 0) {
          pendingSeqs.push(accepted);
          pendingTimes.push(performance.now());
        }
      }
      return ok;
    },
    () => resolveDeliveries(target.progress()),
  );
  for (const t of faultTimers) clearTimeout(t);
  if (fault.kind === 'stall') embedded?.control('resume');

  const flushed = await target.flush(opts.flushTimeoutMs ?? 30_000);
  // Until the flush is done: a peer that sends on the main thread does part of its work here.
  const cpuEnd = mainThreadCpuMicros();
  const processCpu = process.cpuUsage(processCpuStart);
  clearInterval(sampler);
  sample(performance.now() - start);
  loopDelay.disable();
  await target.close();
  // After close: what the target gave up on at the end is a drop (unacked_at_close), so emitted = acked + dropped.
  const progress = target.progress();
  await embedded?.close();

  const elapsedSec = (performance.now() - start) / 1000;
  const acked = progress.acked ?? accepted;
  const distribution: Array<[number, number]> = [];
  for (const p of [0, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 99.999, 100]) {
    if (emitNs.count > 0) distribution.push([p, emitNs.percentile(p === 0 ? 0.0001 : p) / 1000]);
  }
  const delivery = percentilesOf(deliveryMs, 1000);
  // How late the monitor's timer fired: each sample is the whole interval between two firings.
  const late = (ms: number): number => Math.max(0, ms - LOOP_RESOLUTION_MS);
  const loop = percentilesOf(loopDelay, 1e6);
  return {
    peer: opts.peer ?? 'falco-grpc-output',
    scenario: opts.scenario ?? `${opts.rate === 'max' ? 'max rate' : `${opts.rate}/s`}${fault.kind === 'none' ? '' : `, receiver ${fault.kind}`}`,
    emitted,
    acked,
    dropped: progress.dropped,
    drops: progress.drops,
    durationSec: elapsedSec,
    // Everything acked over the whole run, the final flush included.
    throughputPerSec: acked / elapsedSec,
    emitUs: percentilesOf(emitNs, 1000),
    eventLoopDelayMs: { p50: late(loop.p50), p99: late(loop.p99), max: late(loop.max) },
    mainCpuUsPerAlert: emitted > 0 ? Math.max(0, (cpuEnd - cpuStart) / emitted - loopCpuUs) : 0,
    floodLoopCpuUsPerAlert: loopCpuUs,
    processCpuUsPerAlert: emitted > 0 ? Math.max(0, (processCpu.user + processCpu.system) / emitted - loopCpuUs) : 0,
    // NaN (null in JSON) when the peer cannot see acks, rather than a misleading 0.
    deliveryMs: deliveryMs.count > 0 ? { p50: delivery.p50, p99: delivery.p99 } : { p50: NaN, p99: NaN },
    rssMaxMB: Math.max(rssMaxMB, process.resourceUsage().maxRSS / 1024),
    resent: progress.resent,
    reconnects: progress.reconnects,
    bufferBytes: progress.capacityBytes,
    flushed,
    emitDistribution: distribution,
    series,
  };
}
