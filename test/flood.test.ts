// The flood tool itself: pacing, the report's fields, the HTML report, the receiver fault
// modes. These check behaviour (counts, fields, states), never how fast anything is.

import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI } from './helpers/harness.js';
import { tempDir } from './helpers/pki.js';

interface Report {
  emitted: number;
  acked: number;
  dropped: number;
  durationSec: number;
  throughputPerSec: number;
  emitUs: { p50: number; p99: number; p999: number; max: number };
  eventLoopDelayMs: { p50: number; p99: number; max: number };
  mainCpuUsPerAlert: number;
  deliveryMs: { p50: number; p99: number };
  rssMaxMB: number;
  reconnects: number;
  flushed: boolean;
  series: { tSec: number[]; ackedPerSec: number[]; emittedPerSec: number[]; ringFill: number[] };
}

function flood(args: string[]): { code: number | null; report: Report; stderr: string } {
  const run = spawnSync(process.execPath, [CLI, 'flood', '--json', ...args], { encoding: 'utf8', timeout: 90_000 });
  const last = run.stdout.trim().split('\n').pop() ?? '';
  let report: Report;
  try {
    report = JSON.parse(last) as Report;
  } catch {
    throw new Error(`flood printed no JSON report (exit ${run.status}): ${run.stdout}\n${run.stderr}`);
  }
  return { code: run.status, report, stderr: run.stderr };
}

describe('flood', () => {
  it('paces open-loop at the requested rate and reports every field with sane values', () => {
    const { code, report } = flood(['--rate', '2000', '--duration', '2']);
    expect(code).toBe(0);
    // 2 s at 2,000/s: the pacer emits what is due, so the count is the rate times the time,
    // however late its ticks come on a busy machine.
    expect(report.emitted).toBe(4000);
    expect(report.acked).toBe(report.emitted);
    expect(report.dropped).toBe(0);
    expect(report.flushed).toBe(true);
    for (const value of [
      report.durationSec, report.throughputPerSec, report.emitUs.p50, report.emitUs.p99, report.emitUs.p999,
      report.emitUs.max, report.mainCpuUsPerAlert, report.deliveryMs.p50, report.deliveryMs.p99, report.rssMaxMB,
    ]) {
      expect(Number.isFinite(value) && value > 0).toBe(true);
    }
    expect(report.emitUs.p50).toBeLessThanOrEqual(report.emitUs.p99);
    expect(report.emitUs.p99).toBeLessThanOrEqual(report.emitUs.max);
    expect(report.eventLoopDelayMs.p50).toBeGreaterThan(0);
    expect(report.deliveryMs.p50).toBeLessThanOrEqual(report.deliveryMs.p99);
    expect(report.series.tSec.length).toBeGreaterThanOrEqual(6); // a sample every 250 ms
  });

  it('stops at --count and delivers the realistic mix over loopback mTLS', () => {
    const { code, report } = flood(['--count', '3000', '--rate', 'max', '--mix', 'realistic', '--transport', 'mtls']);
    expect(code).toBe(0);
    expect(report).toMatchObject({ emitted: 3000, acked: 3000, dropped: 0, flushed: true });
  });

  it('receiver stall:S holds acks back mid-run, then everything is delivered', () => {
    const { report } = flood(['--rate', '2000', '--duration', '4', '--receiver', 'stall:2']);
    expect(report.acked).toBe(report.emitted - report.dropped);
    // During the stall (seconds 1-3 of 4) some sample sees nothing acknowledged while alerts keep coming.
    const stalled = report.series.tSec.some((t, i) => t > 1.2 && t < 2.8 && report.series.ackedPerSec[i] === 0 && report.series.emittedPerSec[i]! > 0);
    expect(stalled).toBe(true);
    expect(Math.max(...report.series.ringFill)).toBeGreaterThan(0);
  });

  it('receiver slow:MS delays acks by at least MS (the median delivery)', () => {
    const { report } = flood(['--rate', '200', '--duration', '1', '--receiver', 'slow:50']);
    expect(report.acked).toBe(report.emitted);
    expect(report.deliveryMs.p50).toBeGreaterThanOrEqual(50);
  });

  it('receiver down: nothing is acked, the alerts stay buffered, and the exit code says so', () => {
    const { code, report } = flood(['--rate', '1000', '--duration', '1', '--receiver', 'down']);
    expect(code).toBe(1);
    expect(report.acked).toBe(0);
    expect(report.flushed).toBe(false);
    expect(report.reconnects).toBeGreaterThan(0);
  });

  it('receiver restart-every:S: the transmitter reconnects and loses nothing', () => {
    const { code, report, stderr } = flood(['--rate', '2000', '--duration', '3', '--receiver', 'restart-every:1']);
    expect(code, stderr).toBe(0);
    expect(report.reconnects).toBeGreaterThanOrEqual(1);
    expect(report.acked).toBe(report.emitted);
  });

  it('--report writes a self-contained HTML page with its charts', () => {
    const file = join(tempDir(), 'report.html');
    const { code } = flood(['--rate', '2000', '--duration', '1', '--report', file]);
    expect(code).toBe(0);
    const html = readFileSync(file, 'utf8');
    expect(html).toMatch(/^<!DOCTYPE html>/i);
    for (const chart of ['emit-latency', 'throughput', 'ring-fill', 'drops', 'rss']) expect(html).toContain(`data-chart="${chart}"`);
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=/i); // nothing fetched from elsewhere
    expect(html).not.toContain('NaN');
  });

  it('refuses a malformed fault mode and fault modes against an external target', () => {
    const bad = spawnSync(process.execPath, [CLI, 'flood', '--receiver', 'stall'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/stall needs a positive number/);
    const external = spawnSync(process.execPath, [CLI, 'flood', '--target', 'unix:///tmp/x.sock', '--receiver', 'down'], { encoding: 'utf8' });
    expect(external.status).toBe(2);
    expect(external.stderr).toMatch(/apply to the embedded receiver/);
  });
});
