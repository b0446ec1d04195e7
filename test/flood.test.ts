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
  processCpuUsPerAlert: number;
  floodLoopCpuUsPerAlert: number;
  deliveryMs: { p50: number; p99: number };
  rssMaxMB: number;
  reconnects: number;
  flushed: boolean;
  series: { tSec: number[]; ackedPerSec: number[]; emittedPerSec: number[]; ringFill: number[] };
}

/**
 * Runs the CLI to its exit. Asynchronously: a spawnSync blocks this worker's event loop, and a
 * file of such tests kept vitest's own messages to its worker unread past their 60 s timeout
 * on a busy machine (every test passed, the run failed).
 */
function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 90_000 });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

async function flood(args: string[]): Promise<{ code: number | null; report: Report; stderr: string }> {
  const run = await cli(['flood', '--json', ...args]);
  const last = run.stdout.trim().split('\n').pop() ?? '';
  let report: Report;
  try {
    report = JSON.parse(last) as Report;
  } catch {
    throw new Error(`flood printed no JSON report (exit ${run.code}): ${run.stdout}\n${run.stderr}`);
  }
  return { code: run.code, report, stderr: run.stderr };
}

describe('flood', () => {
  it('paces open-loop at the requested rate and reports every field with sane values', async () => {
    const { code, report } = await flood(['--rate', '2000', '--duration', '2']);
    expect(code).toBe(0);
    // 2 s at 2,000/s: the pacer emits what is due, so the count is the rate times the time,
    // however late its ticks come on a busy machine.
    expect(report.emitted).toBe(4000);
    expect(report.acked).toBe(report.emitted);
    expect(report.dropped).toBe(0);
    expect(report.flushed).toBe(true);
    const measured = {
      durationSec: report.durationSec, throughputPerSec: report.throughputPerSec, 'emitUs.p50': report.emitUs.p50,
      'emitUs.p99': report.emitUs.p99, 'emitUs.p999': report.emitUs.p999, 'emitUs.max': report.emitUs.max,
      floodLoopCpuUsPerAlert: report.floodLoopCpuUsPerAlert, 'deliveryMs.p50': report.deliveryMs.p50,
      'deliveryMs.p99': report.deliveryMs.p99, rssMaxMB: report.rssMaxMB,
    };
    for (const [name, value] of Object.entries(measured)) expect(Number.isFinite(value) && value > 0, `${name} = ${value}`).toBe(true);
    // emit()'s own main-thread CPU is what is left after the flood loop's (about 15 us an alert at
    // this rate): on a busy machine it can be below the noise, and then it reads 0, never less.
    expect(Number.isFinite(report.mainCpuUsPerAlert) && report.mainCpuUsPerAlert >= 0, `mainCpuUsPerAlert = ${report.mainCpuUsPerAlert}`).toBe(true);
    // The whole process (the worker included) pays at least what its main thread does.
    expect(report.processCpuUsPerAlert, 'processCpuUsPerAlert').toBeGreaterThanOrEqual(report.mainCpuUsPerAlert);
    expect(report.emitUs.p50).toBeLessThanOrEqual(report.emitUs.p99);
    expect(report.emitUs.p99).toBeLessThanOrEqual(report.emitUs.max);
    expect(report.eventLoopDelayMs.p50).toBeGreaterThanOrEqual(0);
    expect(report.eventLoopDelayMs.p99).toBeGreaterThanOrEqual(report.eventLoopDelayMs.p50);
    expect(report.deliveryMs.p50).toBeLessThanOrEqual(report.deliveryMs.p99);
    // Samples every 250 ms (a late timer only spaces them further) and a last one after the flush,
    // each sample in every series.
    const { tSec } = report.series;
    expect(tSec.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < tSec.length - 1; i++) expect(tSec[i]! - tSec[i - 1]!, `samples ${i - 1} and ${i}`).toBeGreaterThanOrEqual(0.2);
    for (const series of [report.series.ackedPerSec, report.series.emittedPerSec, report.series.ringFill]) expect(series).toHaveLength(tSec.length);
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

  it('receiver slow:MS delays acks by at least MS (the median delivery)', async () => {
    const { report } = await flood(['--rate', '200', '--duration', '1', '--receiver', 'slow:50']);
    expect(report.acked).toBe(report.emitted);
    expect(report.deliveryMs.p50).toBeGreaterThanOrEqual(50);
  });

  it('receiver down: nothing is acked, what was given up is counted as dropped, and the exit code says so', async () => {
    const { code, report } = await flood(['--rate', '1000', '--duration', '1', '--receiver', 'down']);
    expect(code).toBe(1);
    expect(report.acked).toBe(0);
    expect(report.flushed).toBe(false);
    // emitted = acked + dropped at the end of the run: nothing is left uncounted.
    expect(report.dropped).toBe(report.emitted);
    expect(report.drops).toMatchObject({ full: 0, unacked_at_close: report.emitted });
    // For a person: no NaN where there is no delivery latency to show.
    const text = await cli(['flood', '--rate', '1000', '--duration', '1', '--receiver', 'down']);
    expect(text.stdout).toMatch(/delivery +n\/a: nothing was acknowledged/);
    expect(text.stdout).toMatch(/NOT DELIVERED: the receiver acknowledged nothing; [\d,]+ alert\(s\) are counted as dropped \(unacked_at_close [\d,]+\)/);
    expect(text.stdout).not.toContain('NaN');
  });

  it('--demo: a healthy phase with nothing dropped, then a stall whose drops are counted as full; every count adds up', async () => {
    // A low rate keeps the healthy phase healthy on any machine; the stall still overflows the 1 MiB buffer.
    const demo = await cli(['flood', '--demo', '--rate', '2000', '--duration', '2']);
    expect(demo.code, demo.stderr).toBe(0);
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
    const bad = await cli(['flood', '--receiver', 'stall']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/stall needs a positive number/);
    const external = await cli(['flood', '--target', 'unix:///tmp/x.sock', '--receiver', 'down']);
    expect(external.code).toBe(2);
    expect(external.stderr).toMatch(/apply to the embedded receiver/);
  });
});
