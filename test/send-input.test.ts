// `send --follow` and `send --http-listen`: a real send child process, a real receiver child
// process, real files being written, rotated and truncated, real HTTP requests.

import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, closeSync, existsSync, ftruncateSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLI, sendSummary, startReceiverProcess, waitFor, type ReceiverProcess } from './helpers/harness.js';
import { tempDir } from './helpers/pki.js';

const ALERTS = readFileSync(fileURLToPath(new URL('./fixtures/falco-alerts.jsonl', import.meta.url)), 'utf8').trim().split('\n');

interface SendProcess {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<number | null>;
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

function startSend(args: string[]): SendProcess {
  const child = spawn(process.execPath, [CLI, 'send', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, stderr: () => err, exited };
}

async function startReceiver(dir: string): Promise<{ receiver: ReceiverProcess; out: string }> {
  const out = join(dir, 'received.jsonl');
  const receiver = await startReceiverProcess(['--listen', `unix://${join(dir, 'r.sock')}`, '--output-file', out]);
  children.push(receiver.child);
  return { receiver, out };
}

function receivedLines(out: string): string[] {
  return existsSync(out) ? readFileSync(out, 'utf8').split('\n').filter((l) => l !== '') : [];
}

async function waitForReceived(out: string, n: number): Promise<void> {
  await waitFor(`${n} alerts at the receiver`, () => receivedLines(out).length >= n);
}

/** What the receiver wrote, compared with the alerts that should have arrived, in order. */
function expectReceived(out: string, alerts: readonly string[]): void {
  expect(receivedLines(out)).toEqual(alerts); // byte for byte: numbers stay numbers, 64-bit ones exact
}

async function stop(send: SendProcess): Promise<number | null> {
  send.child.kill('SIGTERM');
  return send.exited;
}

const pause = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 5));

/** Appends alerts [from, to) through `fd` a few at a time, the way a running Falco writes them. */
async function writeAlerts(fd: number, from: number, to: number): Promise<void> {
  for (let i = from; i < to; i += 7) {
    writeSync(fd, ALERTS.slice(i, Math.min(i + 7, to)).join('\n') + '\n');
    await pause();
  }
}

describe('send --follow', () => {
  it('reads the file, then what is appended, through a rename rotation and a truncation, each line once', async () => {
    const dir = tempDir();
    const { out } = await startReceiver(dir);
    const file = join(dir, 'falco.jsonl');
    writeFileSync(file, ALERTS.slice(0, 50).join('\n') + '\n');
    const send = startSend(['--target', `unix://${join(dir, 'r.sock')}`, '--input', file, '--follow']);
    await waitForReceived(out, 50);

    let fd = openSync(file, 'a');
    await writeAlerts(fd, 50, 120);
    // An unfinished line waits for its newline: line 121 is half written when 120 is read.
    const half = ALERTS[121]!.length >> 1;
    writeSync(fd, `${ALERTS[120]}\n${ALERTS[121]!.slice(0, half)}`);
    await waitForReceived(out, 121);
    writeSync(fd, `${ALERTS[121]!.slice(half)}\n`);

    // Rotation: the file is renamed, the writer finishes in it, then starts a new file at the path.
    renameSync(file, `${file}.1`);
    await writeAlerts(fd, 122, 160);
    closeSync(fd);
    fd = openSync(file, 'a');
    await writeAlerts(fd, 160, 220);
    await waitForReceived(out, 220);

    // Truncation (logrotate's copytruncate): the writer goes on from offset 0.
    ftruncateSync(fd, 0);
    await writeAlerts(fd, 220, 260);
    closeSync(fd);
    await waitForReceived(out, 260);

    expect(await stop(send)).toBe(0);
    expect(send.stderr()).toMatch(sendSummary({ read: 260, malformed: 0, emitted: 260, acked: 260, dropped: 0 }));
    expect(send.stderr()).toMatch(/falco\.jsonl: rotated/);
    expect(send.stderr()).toMatch(/falco\.jsonl: truncated/);
    expectReceived(out, ALERTS.slice(0, 260));
  });

  it('with --from-end skips what is there; a malformed line is reported as FILE:LINE and the rest arrive', async () => {
    const dir = tempDir();
    const { out } = await startReceiver(dir);
    const file = join(dir, 'falco.jsonl');
    writeFileSync(file, [ALERTS[0], '{"rule": broken, old', ALERTS[1]].join('\n') + '\n');
    const send = startSend(['--target', `unix://${join(dir, 'r.sock')}`, '--input', file, '--follow', '--from-end']);
    await waitFor('send to reach the end of the file', () => send.stderr().includes('skipped to its end (line 3); following'));

    appendFileSync(file, [ALERTS[2], ALERTS[3], '{"rule": broken', '', ALERTS[4], '{"rule":"r","time":"2025-11-27T05:00:00Z"}', ALERTS[5]].join('\n') + '\n');
    await waitForReceived(out, 4);
    appendFileSync(file, ALERTS[6]!.slice(0, 40)); // never finished

    expect(await stop(send)).toBe(0);
    const stderr = send.stderr();
    expect(stderr).toContain(`${file}:6: not JSON: `);
    expect(stderr).toContain(`${file}:9: "priority" must be a string; it is missing; skipped`);
    expect(stderr).not.toMatch(/:2: not JSON/); // the old malformed line was skipped with the rest
    expect(stderr).toContain(`${file}:11: 40 byte(s) of an unfinished line left unread`);
    expect(stderr).toMatch(sendSummary({ read: 6, malformed: 2, emitted: 4, acked: 4, dropped: 0 }));
    expectReceived(out, ALERTS.slice(2, 6));
  });

  it('waits for a file that is not there yet, says so, and reads it from its start once it appears', async () => {
    const dir = tempDir();
    const { out } = await startReceiver(dir);
    const file = join(dir, 'later.jsonl');
    const send = startSend(['--target', `unix://${join(dir, 'r.sock')}`, '--input', file, '--follow', '--from-end']);
    await waitFor('send to say it waits', () => send.stderr().includes(`${file}: no such file yet; waiting for it to appear`));
    writeFileSync(file, ALERTS.slice(0, 3).join('\n') + '\n');
    await waitForReceived(out, 3);
    expect(await stop(send)).toBe(0);
    expect(send.stderr()).toMatch(sendSummary({ read: 3, malformed: 0, emitted: 3, acked: 3, dropped: 0 }));
    expectReceived(out, ALERTS.slice(0, 3));
  });

  it('refuses flags that do not go together, saying which', async () => {
    const cases: [string[], RegExp][] = [
      [['--follow'], /--follow needs --input FILE/],
      [['--input', 'x', '--from-end'], /--from-end goes with --follow/],
      [['--http-listen', '127.0.0.1:0', '--input', 'x'], /--http-listen takes alerts over HTTP only/],
      [['--http-listen', '2801'], /HTTP listen address must be host:port .*got "2801"/],
    ];
    for (const [args, message] of cases) {
      const send = startSend(['--target', 'unix:///nowhere.sock', ...args]);
      expect(await send.exited).toBe(2);
      expect(send.stderr()).toMatch(message);
    }
  });
});

/** Starts `send --http-listen 127.0.0.1:0` and resolves with its URL once it is listening. */
async function startHttpSend(args: string[]): Promise<{ send: SendProcess; url: string }> {
  const send = startSend(['--http-listen', '127.0.0.1:0', ...args]);
  await waitFor('send to listen', () => /listening on http:\/\/127\.0\.0\.1:[1-9]/.test(send.stderr()) || send.child.exitCode !== null);
  const url = /listening on (http:\/\/\S+)/.exec(send.stderr())?.[1];
  if (!url) throw new Error(`send did not listen: ${send.stderr()}`);
  return { send, url };
}

async function post(url: string, body: string | Uint8Array, contentType = 'application/json', headers: Record<string, string> = {}) {
  const res = await fetch(url, { method: 'POST', body, headers: { 'Content-Type': contentType, ...headers } });
  return { status: res.status, text: await res.text() };
}

describe('send --http-listen', () => {
  it("takes Falco's http_output POSTs on any path and delivers them field for field", async () => {
    const dir = tempDir();
    const { out } = await startReceiver(dir);
    const { send, url } = await startHttpSend(['--target', `unix://${join(dir, 'r.sock')}`]);
    const paths = ['/', '/falco', '/a/b?x=1'];
    const alerts = ALERTS.slice(0, 60);
    for (const [i, alert] of alerts.entries()) {
      expect(await post(`${url}${paths[i % 3]}`, alert)).toEqual({ status: 204, text: '' });
    }
    expect(await stop(send)).toBe(0);
    expect(send.stderr()).toMatch(sendSummary({ read: 60, malformed: 0, emitted: 60, acked: 60, dropped: 0 }));
    expect(send.stderr()).toMatch(/http answers: 204 x60/);
    expectReceived(out, alerts);
  });

  it('answers each bad request with its status and reason, reports it, and goes on serving', async () => {
    const dir = tempDir();
    const { out } = await startReceiver(dir);
    const { send, url } = await startHttpSend(['--target', `unix://${join(dir, 'r.sock')}`]);
    const good = ALERTS.slice(0, 7);
    const bad: [() => Promise<{ status: number; text: string }>, number, RegExp][] = [
      [() => post(url, '{"rule": broken'), 400, /^not JSON: /],
      [() => post(url, '05:00:00.000000000: Warning Shell spawned (user=root)', 'text/plain'), 400, /text\/plain.*json_output: true/],
      [() => post(url, '{"priority":"Notice","time":"2025-11-27T05:00:00Z"}'), 400, /"rule" must be a string; it is missing/],
      [() => post(url, '{"rule":"r","priority":"loud","time":"2025-11-27T05:00:00Z"}'), 400, /priority "loud" is not a Falco priority/],
      [() => post(url, ''), 400, /empty body/],
      [() => fetch(url).then(async (r) => ({ status: r.status, text: await r.text() })), 405, /method GET not allowed/],
      [() => post(url, new Uint8Array(2 * 1024 * 1024).fill(0x20)), 413, /body of 2097152 bytes is over the 1048576-byte limit/],
      [() => post(url, good[0]!, 'application/json', { 'Content-Encoding': 'gzip' }), 415, /Content-Encoding gzip is not supported/],
    ];
    expect(await post(url, good[0]!)).toEqual({ status: 204, text: '' });
    for (const [i, [request, status, reason]] of bad.entries()) {
      const res = await request();
      expect(res.status).toBe(status);
      expect(res.text).toMatch(reason);
      // The request after a bad one is served as ever.
      expect((await post(url, good[i % 6 + 1]!)).status).toBe(204);
    }
    expect(await stop(send)).toBe(0);
    const stderr = send.stderr();
    expect(stderr).toMatch(/request 2 from 127\.0\.0\.1:\d+: not JSON: /);
    expect(stderr).toMatch(/request 12 from 127\.0\.0\.1:\d+: method GET not allowed/);
    // The "loud" priority passes the JSON reader but not emit(): emitted, and dropped as invalid, as the metrics count it.
    expect(stderr).toMatch(sendSummary({ read: 17, malformed: 8, emitted: 10, acked: 9, dropped: 1 }));
    expect(stderr).toMatch(/dropped 1 \(invalid 1: not a valid alert, also counted as malformed\)/);
    expect(stderr).toMatch(/http answers: 204 x9, 400 x5, 405 x1, 413 x1, 415 x1/);
    expectReceived(out, [good[0]!, ...bad.map((_b, i) => good[i % 6 + 1]!)]);
  });

  it('answers 503 and counts the drop when the ring is full, without blocking the server', async () => {
    // No receiver: nothing is acknowledged, so a 64 KiB ring fills after a hundred alerts or so.
    const { send, url } = await startHttpSend(['--target', `unix://${join(tempDir(), 'nobody.sock')}`, '--buffer-bytes', '65536', '--flush-timeout', '1']);
    let accepted = 0;
    let refused: { status: number; text: string } | null = null;
    let i = 0;
    for (; i < 1000 && refused === null; i++) {
      const res = await post(url, ALERTS[i]!);
      if (res.status === 204) accepted++;
      else refused = res;
    }
    expect(refused?.status).toBe(503);
    expect(refused?.text).toMatch(/buffer full.*dropped/);
    expect((await post(url, ALERTS[i - 1]!)).status).toBe(503); // nothing acked, so no room yet
    expect((await fetch(url)).status).toBe(405); // still serving
    expect(await stop(send)).toBe(1);
    const stderr = send.stderr();
    expect(stderr.match(/dropping alerts: its buffer is full/g)).toHaveLength(1); // said once, not per request
    // What was given up at the end is a drop too: emitted = acked + dropped.
    expect(stderr).toMatch(sendSummary({ read: accepted + 3, malformed: 1, emitted: accepted + 2, acked: 0, dropped: accepted + 2 }));
    expect(stderr).toContain(`(full 2: its buffer was full; unacked_at_close ${accepted}: still unacknowledged when --flush-timeout ran out)`);
    expect(stderr).toContain(`http answers: 204 x${accepted}, 405 x1, 503 x2`);
  });
});
