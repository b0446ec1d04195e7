// The stdout, file and program channels against real peers: a piped child process, real files
// renamed and deleted under load, real shell programs. Every count must add up:
// delivered + failed = items handed to the channel.

import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Channel, ChannelItem, DeliveryReport } from '../dist/src/destinations/channels/channel.js';
import { StdoutChannel } from '../dist/src/destinations/channels/stdout/stdout.js';
import { FileChannel } from '../dist/src/destinations/channels/file/file.js';
import { ProgramChannel } from '../dist/src/destinations/channels/program/program.js';
import { response } from '../dist/src/gen/falco/outputs/outputs.js';
import { tempDir } from './helpers/pki.js';
import { waitFor } from './helpers/harness.js';

const STDOUT_HOST = fileURLToPath(new URL('./fixtures/stdout-channel-host.mjs', import.meta.url));
const never = new AbortController().signal;

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function lineOf(i: number): string {
  return `{"rule":"Terminal shell in container","seq":${i}}`;
}

/** Items from..to-1, each line naming its number. */
function items(from: number, to: number): ChannelItem[] {
  const out: ChannelItem[] = [];
  for (let i = from; i < to; i++) out.push({ alert: response.fromPartial({ rule: 'Terminal shell in container' }), line: lineOf(i) });
  return out;
}

function linesOf(path: string): string[] {
  if (!existsSync(path)) return [];
  const text = readFileSync(path, 'utf8');
  return text === '' ? [] : text.replace(/\n$/, '').split('\n');
}

/** Sums reports and checks each one adds up by itself. */
class Tally {
  delivered = 0;
  failed = 0;
  errors: string[] = [];
  add(report: DeliveryReport, size: number): DeliveryReport {
    expect(report.delivered + report.failed).toBe(size);
    if (report.failed > 0) expect(report.error).toBeTruthy();
    this.delivered += report.delivered;
    this.failed += report.failed;
    if (report.error !== undefined) this.errors.push(report.error);
    return report;
  }
}

async function deliverRange(channel: Channel, tally: Tally, from: number, to: number): Promise<DeliveryReport> {
  return tally.add(await channel.deliver(items(from, to), never), to - from);
}

function open<T extends Channel>(channel: T): T {
  cleanups.push(() => channel.close());
  return channel;
}

/** A process that no longer runs: gone, or a zombie its (re)parent has not reaped yet. */
function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  try {
    return /^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

interface StdoutRun {
  lines: string[];
  report: { delivered: number; failed: number; errors: string[]; nonBlocking: boolean };
  code: number | null;
}

/** Runs the stdout fixture; `reader` decides how its piped stdout is read. */
function runStdoutHost(count: number, where: 'worker' | 'main', reader: (child: ReturnType<typeof spawn>, progress: () => number) => void): Promise<StdoutRun> {
  const child = spawn(process.execPath, [STDOUT_HOST, String(count), '500', where], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const progress = (): number => Math.max(0, ...[...err.matchAll(/^progress (\d+)$/gm)].map((m) => Number(m[1])));
  reader(child, progress);
  return new Promise((resolve) => {
    child.on('close', (code) => {
      const reportLine = /^report (.*)$/m.exec(err);
      if (!reportLine) throw new Error(`stdout host gave no report; stderr: ${err}`);
      resolve({ lines: out === '' ? [] : out.replace(/\n$/, '').split('\n'), report: JSON.parse(reportLine[1]!) as StdoutRun['report'], code });
    });
  });
}

function expectNumberedLines(lines: readonly string[], count: number): void {
  expect(lines.length).toBe(count);
  for (let i = 0; i < count; i++) {
    if (!lines[i]!.startsWith(`line ${String(i).padStart(6, '0')} `)) throw new Error(`line ${i} is ${lines[i]!.slice(0, 20)}`);
  }
}

describe('stdout channel', () => {
  it('from a worker thread, where fd 1 is a non-blocking pipe, every line arrives in order', async () => {
    const run = await runStdoutHost(20_000, 'worker', () => {});
    expect(run.code).toBe(0);
    expect(run.report.nonBlocking).toBe(true); // the EAGAIN path is the one exercised
    expect(run.report).toMatchObject({ delivered: 20_000, failed: 0 });
    expectNumberedLines(run.lines, 20_000);
  });

  it('a paused reader holds the writer back (EAGAIN waits), and once it reads again every line arrives', async () => {
    let heldBack = false;
    const run = await runStdoutHost(20_000, 'worker', (child, progress) => {
      child.stdout!.pause();
      void (async () => {
        await waitFor('the first batch', () => progress() > 0);
        await new Promise((resolve) => setTimeout(resolve, 500));
        // 4 MB cannot fit in the pipe: without backpressure the writer would be done by now
        heldBack = progress() < 20_000 && child.exitCode === null;
        child.stdout!.resume();
      })();
    });
    expect(heldBack).toBe(true);
    expect(run.report).toMatchObject({ delivered: 20_000, failed: 0 });
    expectNumberedLines(run.lines, 20_000);
  });

  it('on a blocking fd (main thread, fd 1 as inherited) a paused reader also loses nothing', async () => {
    const run = await runStdoutHost(20_000, 'main', (child, progress) => {
      child.stdout!.pause();
      void waitFor('the first batch', () => progress() > 0).then(() => child.stdout!.resume());
    });
    expect(run.report.nonBlocking).toBe(false);
    expect(run.report).toMatchObject({ delivered: 20_000, failed: 0 });
    expectNumberedLines(run.lines, 20_000);
  });

  it('a reader that goes away: the rest fails with EPIPE, counted line for line, and the host keeps running', async () => {
    const run = await runStdoutHost(20_000, 'worker', (child) => {
      let seen = 0;
      child.stdout!.on('data', (d: string) => {
        seen += d.length;
        if (seen > 100_000) child.stdout!.destroy();
      });
    });
    expect(run.code).toBe(0);
    expect(run.report.delivered + run.report.failed).toBe(20_000);
    expect(run.report.failed).toBeGreaterThan(0);
    expect(run.report.errors[0]).toMatch(/^write to stdout \(fd 1\): EPIPE/);
    // what was counted delivered was written whole, in order
    expect(run.report.delivered).toBeGreaterThanOrEqual(run.lines.filter((l) => l.length > 200).length);
  });

  it('rejects an fd that is not a file descriptor number, saying so', () => {
    expect(() => new StdoutChannel({ fd: -1 })).toThrow(/stdout_output: fd must be a file descriptor number.*got -1/);
    expect(() => new StdoutChannel({ fd: 1.5 })).toThrow(/got 1\.5/);
  });
});

describe('file channel', () => {
  for (const keepAlive of [false, true]) {
    it(`appends to an existing file (keepAlive ${keepAlive})`, async () => {
      const path = join(tempDir(), 'falco.log');
      writeFileSync(path, 'written before\n');
      const channel = open(new FileChannel({ filename: path, keepAlive }));
      const tally = new Tally();
      for (let from = 0; from < 3000; from += 1000) await deliverRange(channel, tally, from, from + 1000);
      await channel.close();
      expect(tally).toMatchObject({ delivered: 3000, failed: 0 });
      expect(linesOf(path)).toEqual(['written before', ...items(0, 3000).map((i) => i.line)]);
    });

    it(`rotation under load: renamed away (and recreated) by another process, again by this one, then deleted; every line lands exactly once (keepAlive ${keepAlive})`, async () => {
      const dir = tempDir();
      const path = join(dir, 'falco.log');
      const channel = open(new FileChannel({ filename: path, keepAlive }));
      const tally = new Tally();
      let next = 0;
      const batch = async (): Promise<void> => {
        await deliverRange(channel, tally, next, next + 50);
        next += 50;
      };
      await batch();
      // logrotate's rename and `create`, from another process, while batches keep coming
      const mover = spawn('/bin/sh', ['-c', 'mv "$1" "$1.1" && : >> "$1"', 'rotate', path], { stdio: 'inherit' });
      let moved = false;
      mover.on('exit', () => (moved = true));
      while (!moved) {
        await batch();
        await new Promise((resolve) => setImmediate(resolve));
      }
      for (let i = 0; i < 5; i++) await batch();
      // the same between two batches, so that a new file already stands at the path when the next batch comes
      renameSync(path, `${path}.2`);
      writeFileSync(path, '');
      for (let i = 0; i < 5; i++) await batch();
      // a rotation that deletes: whoever deletes keeps what was there (here: this snapshot)
      const beforeDelete = linesOf(path);
      unlinkSync(path);
      for (let i = 0; i < 5; i++) await batch();
      await channel.close();

      expect(tally).toMatchObject({ delivered: next, failed: 0 });
      const parts = [linesOf(`${path}.1`), linesOf(`${path}.2`), beforeDelete, linesOf(path)];
      expect(parts.map((part) => part.length > 0)).toEqual([true, true, true, true]);
      expect(parts.at(-1)!.length).toBe(250);
      expect(parts.flat()).toEqual(items(0, next).map((i) => i.line));
    });
  }

  it('reopen() (SIGHUP) after a rename sends new lines to a new file at the path', async () => {
    const dir = tempDir();
    const path = join(dir, 'falco.log');
    const channel = open(new FileChannel({ filename: path, keepAlive: true }));
    const tally = new Tally();
    await deliverRange(channel, tally, 0, 10);
    renameSync(path, join(dir, 'falco.log.old'));
    channel.reopen();
    await deliverRange(channel, tally, 10, 20);
    expect(linesOf(join(dir, 'falco.log.old'))).toEqual(items(0, 10).map((i) => i.line));
    expect(linesOf(path)).toEqual(items(10, 20).map((i) => i.line));
    expect(tally).toMatchObject({ delivered: 20, failed: 0 });
  });

  it('a path whose directory is missing: failed with an error naming the path, then delivered once it exists', async () => {
    const dir = join(tempDir(), 'not-yet');
    const path = join(dir, 'falco.log');
    const channel = open(new FileChannel({ filename: path, keepAlive: true }));
    const tally = new Tally();
    const first = await deliverRange(channel, tally, 0, 100);
    expect(first).toEqual({ delivered: 0, failed: 100, error: expect.stringMatching(/^cannot open .*not-yet\/falco\.log for appending: ENOENT/) });
    await deliverRange(channel, tally, 100, 200); // still missing: fails again, after the backoff
    mkdirSync(dir);
    await deliverRange(channel, tally, 200, 300);
    expect(tally).toMatchObject({ delivered: 100, failed: 200 });
    expect(linesOf(path)).toEqual(items(200, 300).map((i) => i.line));
  });

  it('a path that is a directory, and a write that fails (a full device): failed, saying what and where', async () => {
    const dirPath = tempDir();
    const onDir = open(new FileChannel({ filename: dirPath }));
    expect(await onDir.deliver(items(0, 5), never)).toEqual({ delivered: 0, failed: 5, error: expect.stringMatching(/^cannot open .* for appending: EISDIR/) });
    const full = open(new FileChannel({ filename: '/dev/full', keepAlive: true }));
    expect(await full.deliver(items(0, 5), never)).toEqual({ delivered: 0, failed: 5, error: expect.stringMatching(/^cannot append to \/dev\/full: ENOSPC/) });
  });

  it('rejects an empty filename', () => {
    expect(() => new FileChannel({ filename: '' })).toThrow('file_output: filename is empty');
  });
});

describe('program channel', () => {
  it('keepAlive: one long-lived `cat >> file` receives every line, and close() lets it finish', async () => {
    const out = join(tempDir(), 'out.txt');
    const channel = open(new ProgramChannel({ program: `cat >> '${out}'`, keepAlive: true }));
    const tally = new Tally();
    for (let from = 0; from < 6000; from += 2000) await deliverRange(channel, tally, from, from + 2000);
    await channel.close();
    expect(tally).toMatchObject({ delivered: 6000, failed: 0 });
    expect(linesOf(out)).toEqual(items(0, 6000).map((i) => i.line));
  });

  it('keepAlive: a program that exits after every 3 lines is restarted, and the line its death refused goes to the next run', async () => {
    const dir = tempDir();
    const out = join(dir, 'out.txt');
    const runs = join(dir, 'runs.txt');
    // It closes its input before writing its 3rd line, so once that line is in the file the next write
    // meets a closed pipe (EPIPE) rather than a pipe nobody will read.
    const program = `echo $$ >> '${runs}'; i=0; while [ $i -lt 3 ] && IFS= read -r l; do i=$((i+1)); [ $i -eq 3 ] && exec 0<&-; printf '%s\\n' "$l" >> '${out}'; done`;
    const channel = open(new ProgramChannel({ program, keepAlive: true }));
    const tally = new Tally();
    for (let i = 0; i < 12; i++) {
      await deliverRange(channel, tally, i, i + 1);
      await waitFor(`line ${i} in the file`, () => linesOf(out).includes(lineOf(i)));
    }
    await channel.close();
    expect(tally).toMatchObject({ delivered: 12, failed: 0 });
    expect(linesOf(runs).length).toBe(4);
    expect(linesOf(out)).toEqual(items(0, 12).map((i) => i.line));
  });

  it('without keepAlive: one run per alert, in order; a non-zero exit fails that alert only', async () => {
    const dir = tempDir();
    const out = join(dir, 'out.txt');
    const pids = join(dir, 'pids.txt');
    const program = `echo $$ >> '${pids}'; IFS= read -r l; case "$l" in *'"seq":7}') exit 3;; esac; printf '%s\\n' "$l" >> '${out}'`;
    const channel = open(new ProgramChannel({ program }));
    const tally = new Tally();
    await deliverRange(channel, tally, 0, 10);
    await deliverRange(channel, tally, 10, 20);
    expect(tally).toMatchObject({ delivered: 19, failed: 1 });
    expect(tally.errors).toEqual([expect.stringMatching(/^program_output ".*": exited with code 3$/)]);
    expect(new Set(linesOf(pids)).size).toBe(20);
    expect(linesOf(out)).toEqual(items(0, 20).filter((_, i) => i !== 7).map((i) => i.line));
  });

  it('a program that does not exist: failed with a clear error, per alert and kept alive, without crashing', async () => {
    const perAlert = open(new ProgramChannel({ program: '/nonexistent/x' }));
    expect(await perAlert.deliver(items(0, 3), never)).toEqual({
      delivered: 0,
      failed: 3,
      error: 'program_output "/nonexistent/x": exited with code 127 (command not found)',
    });

    // Kept alive, the first lines may be taken by the pipe before the shell gives up (counted delivered,
    // as nothing says otherwise); once it has exited with 127, batches fail with the reason.
    const kept = open(new ProgramChannel({ program: '/nonexistent/x', keepAlive: true }));
    const tally = new Tally();
    let sent = 0;
    for (let i = 0; i < 200 && tally.failed === 0; i++) {
      await deliverRange(kept, tally, sent, sent + 10);
      sent += 10;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(tally.failed).toBeGreaterThan(0);
    expect(tally.delivered + tally.failed).toBe(sent);
    expect(tally.errors.at(-1)).toBe('program_output "/nonexistent/x": exited with code 127 (command not found)');
  });

  it('close() stops a long-lived program that ignores end-of-input and SIGTERM, and what it started', async () => {
    const pidFile = join(tempDir(), 'pids.txt');
    const program = `trap '' TERM; sleep 1000 & echo $$ $! > '${pidFile}'; wait`;
    const channel = open(new ProgramChannel({ program, keepAlive: true }));
    expect(await channel.deliver(items(0, 1), never)).toEqual({ delivered: 1, failed: 0 });
    await waitFor('the program to start', () => linesOf(pidFile).length === 1);
    const pids = linesOf(pidFile)[0]!.split(' ').map(Number);
    expect(pids.every((pid) => !processGone(pid))).toBe(true);
    await channel.close();
    await waitFor('both processes to be gone', () => pids.every(processGone), 10_000);
    expect(await channel.deliver(items(1, 3), never)).toEqual({ delivered: 0, failed: 2, error: expect.stringMatching(/output closed/) });
  });

  it('rejects an empty program', () => {
    expect(() => new ProgramChannel({ program: '  ' })).toThrow('program_output: program is empty');
  });
});
