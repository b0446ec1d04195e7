// The flood tool itself: pacing, the report's fields, the HTML report, the receiver fault
// modes. These check behaviour (counts, fields, states), never how fast anything is.

import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
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

/** Runs the CLI to its end, asynchronously: a test worker blocked in spawnSync loses its link to vitest. */
function run(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('exit', (status) => resolve({ status, stdout, stderr })));
}

async function flood(args: string[]): Promise<{ code: number | null; report: Report; stderr: string }> {
  const out = await run(['flood', '--json', ...args]);
  const last = out.stdout.trim().split('\n').pop() ?? '';
  let report: Report;
  try {
    report = JSON.parse(last) as Report;
  } catch {
    throw new Error(`flood printed no JSON report (exit ${out.status}): ${out.stdout}\n${out.stderr}`);
  }
  return { code: out.status, report, stderr: out.stderr };
}

describe('flood', () => {
  it('paces open-loop at the requested rate and reports every field with sane values', async () => {
    const { code, report } = await flood(['--rate', '2000', '--duration', '2']);
    expect(code).toBe(0);
    // 2 s at 2,000/s: the pacer emits what is due, so the count is the rate times the time.
    expect(report.emitted).toBeGreaterThanOrEqual(3800);
    expect(report.emitted).toBeLessThanOrEqual(4002);
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
    expect(report.eventLoopDelayMs.p50).toBeGreaterThanOrEqual(0);
    expect(report.eventLoopDelayMs.p99).toBeGreaterThanOrEqual(report.eventLoopDelayMs.p50);
    expect(report.deliveryMs.p50).toBeLessThanOrEqual(report.deliveryMs.p99);
    expect(report.series.tSec.length).toBeGreaterThanOrEqual(6); // a sample every 250 ms
  });

  it('stops at --count and delivers the realistic mix over loopback mTLS', async () => {
    const { code, report } = await flood(['--count', '3000', '--rate', 'max', '--mix', 'realistic', '--transport', 'mtls']);
    expect(code).toBe(0);
    expect(report).toMatchObject({ emitted: 3000, acked: 3000, dropped: 0, flushed: true });
  });

  it('receiver stall:S holds acks back mid-run, then everything is delivered', async () => {
    const { report } = await flood(['--rate', '2000', '--duration', '4', '--receiver', 'stall:2']);
    expect(report.acked).toBe(report.emitted - report.dropped);
    // During the stall (seconds 1-3 of 4) some sample sees nothing acknowledged while alerts keep coming.
    const stalled = report.series.tSec.some((t, i) => t > 1.2 && t < 2.8 && report.series.ackedPerSec[i] === 0 && report.series.emittedPerSec[i]! > 0);
    expect(stalled).toBe(true);
    expect(Math.max(...report.series.ringFill)).toBeGreaterThan(0);
  });

  it('receiver slow:MS delays every ack by at least MS', async () => {
    const { report } = await flood(['--rate', '200', '--duration', '1', '--receiver', 'slow:50']);
    expect(report.acked).toBe(report.emitted);
    expect(report.deliveryMs.p50).toBeGreaterThanOrEqual(50);
  });

  it('receiver down: nothing is acked, what was given up is counted as dropped, and the exit code says so', async () => {
    const { code, report } = await flood(['--rate', '1000', '--duration', '1', '--receiver', 'down']);
    expect(code).toBe(1);
    expect(report.acked).toBe(0);
    expect(report.flushed).toBe(false);
    expect(report.reconnects).toBeGreaterThan(0);
    // emitted = acked + dropped at the end of the run: nothing is left uncounted.
    expect(report.dropped).toBe(report.emitted);
    expect(report.drops).toMatchObject({ full: 0, unacked_at_close: report.emitted });
    // For a person: no NaN where there is no delivery latency to show.
    const text = await run(['flood', '--rate', '1000', '--duration', '1', '--receiver', 'down']);
    expect(text.stdout).toMatch(/delivery +n\/a: nothing was acknowledged/);
    expect(text.stdout).toMatch(/NOT DELIVERED: the receiver acknowledged nothing; [\d,]+ alert\(s\) are counted as dropped \(unacked_at_close [\d,]+\)/);
    expect(text.stdout).not.toContain('NaN');
  });

  it('--demo: a healthy phase with nothing dropped, then a stall whose drops are counted as full; every count adds up', async () => {
    // A low rate keeps the healthy phase healthy on any machine; the stall still overflows the 1 MiB buffer.
    const demo = await run(['flood', '--demo', '--rate', '2000', '--duration', '2']);
    expect(demo.status, demo.stderr).toBe(0);
    const [healthy, stall] = demo.stdout.split('\nNext: ');
    const number = (text: string, label: string): number => Number(new RegExp(`^  ${label} +([\\d,]+)`, 'm').exec(text)![1]!.replace(/,/g, ''));
    expect(healthy).toMatch(/OK: every alert was acknowledged by the receiver and none was dropped\./);
    expect(number(healthy!, 'dropped')).toBe(0);
    expect(number(healthy!, 'acked')).toBe(number(healthy!, 'emitted'));
    expect(stall).toMatch(/receiver stalled for 2 s/);
    expect(stall).toMatch(/alert\(s\) dropped \(full [\d,]+\): the buffer was full/);
    expect(number(stall!, 'dropped')).toBeGreaterThan(0);
    expect(number(stall!, 'acked') + number(stall!, 'dropped')).toBe(number(stall!, 'emitted'));
    for (const line of ['emitted', 'acked', 'dropped', 'emit()', 'event loop', 'delivery']) expect(healthy).toMatch(new RegExp(`^  ${line.replace(/[()]/g, '\\$&')} `, 'm'));
  });

  it('receiver restart-every:S: the transmitter reconnects and loses nothing', async () => {
    const { code, report, stderr } = await flood(['--rate', '2000', '--duration', '3', '--receiver', 'restart-every:1']);
    expect(code, stderr).toBe(0);
    expect(report.reconnects).toBeGreaterThanOrEqual(1);
    expect(report.acked).toBe(report.emitted);
  });

  it('--report writes a self-contained HTML page with its charts', async () => {
    const file = join(tempDir(), 'report.html');
    const { code } = await flood(['--rate', '2000', '--duration', '1', '--report', file]);
    expect(code).toBe(0);
    const html = readFileSync(file, 'utf8');
    expect(html).toMatch(/^<!DOCTYPE html>/i);
    for (const chart of ['emit-latency', 'throughput', 'ring-fill', 'drops', 'rss']) expect(html).toContain(`data-chart="${chart}"`);
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=/i); // nothing fetched from elsewhere
    expect(html).not.toContain('NaN');
  });

  it('refuses a malformed fault mode and fault modes against an external target', async () => {
    const bad = await run(['flood', '--receiver', 'stall']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/stall needs a positive number/);
    const external = await run(['flood', '--target', 'unix:///tmp/x.sock', '--receiver', 'down']);
    expect(external.status).toBe(2);
    expect(external.stderr).toMatch(/apply to the embedded receiver/);
  });
});
