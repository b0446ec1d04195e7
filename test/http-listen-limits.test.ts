// `send --http-listen` against hostile posters: headers that never end, a body trickled forever,
// a chunked body that never stops, numbers and priorities out of range. Each is answered and cut
// (or refused with a reason) while a healthy poster beside them loses nothing. Real send and
// receive child processes, raw TCP sockets for the attackers.

import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLI, sendSummary, startReceiverProcess, waitFor } from './helpers/harness.js';
import { tempDir } from './helpers/pki.js';

const ALERTS = readFileSync(fileURLToPath(new URL('./fixtures/falco-alerts.jsonl', import.meta.url)), 'utf8').trim().split('\n');

const children: ChildProcess[] = [];
const sockets: net.Socket[] = [];
afterEach(() => {
  for (const socket of sockets.splice(0)) socket.destroy();
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

/** A raw connection that records what the server says and when it closes. */
function attacker(port: number): { socket: net.Socket; answer: () => string; closed: Promise<void> } {
  const socket = net.connect(port, '127.0.0.1');
  sockets.push(socket);
  let answer = '';
  socket.on('data', (d: Buffer) => (answer += d.toString()));
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  return { socket, answer: () => answer, closed };
}

/** Writes `piece` every `ms` until the socket closes. */
function trickle(socket: net.Socket, piece: string | Buffer, ms: number): void {
  const timer = setInterval(() => (socket.destroyed ? clearInterval(timer) : socket.write(piece)), ms);
  socket.on('close', () => clearInterval(timer));
}

/** A receiver writing `out`, and `send --http-listen` on a free port into it with `flags`. */
async function httpSend(flags: string[]) {
  const dir = tempDir();
  const out = join(dir, 'out.jsonl');
  const rx = await startReceiverProcess(['--listen', `unix://${join(dir, 'r.sock')}`, '--output-file', out]);
  children.push(rx.child);
  const send = spawn(process.execPath, [CLI, 'send', '--target', rx.addresses[0]!, '--http-listen', '127.0.0.1:0', ...flags], { stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(send);
  let stderr = '';
  send.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => send.on('exit', (code) => resolve(code)));
  await waitFor('send to listen', () => /listening on http:\/\/\S+/.test(stderr));
  const url = /listening on (http:\/\/\S+)/.exec(stderr)![1]!;
  return { rx, out, send, exited, url, port: Number(new URL(url).port), stderr: () => stderr };
}

describe('send --http-listen bounds what a poster can hold', () => {
  it('cuts slow headers, a trickled body and an endless chunked body; refuses 1e400 and priority 99; a healthy poster loses nothing', async () => {
    const { rx, out, send, exited, url, port, stderr } = await httpSend(['--http-request-timeout', '1']);

    // The healthy poster, one alert after another for the whole attack.
    let healthy = 0;
    let attacking = true;
    const poster = (async () => {
      while (attacking || healthy < 20) {
        const res = await fetch(url, { method: 'POST', body: ALERTS[healthy % ALERTS.length] });
        expect(res.status).toBe(204);
        healthy++;
      }
    })();
    poster.catch(() => {}); // awaited below; if the test fails first, the receiver's kill must not add an unhandled rejection

    // Headers that never end: a byte every 100 ms.
    const slowHeaders = attacker(port);
    slowHeaders.socket.write('POST / HTTP/1.1\r\nHost: x\r\n');
    trickle(slowHeaders.socket, 'X', 100);
    // A body trickled forever, one chunk every 100 ms.
    const slowBody = attacker(port);
    slowBody.socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n');
    trickle(slowBody.socket, '1\r\n \r\n', 100);
    // A chunked body that never stops, as fast as it goes.
    const endless = attacker(port);
    endless.socket.write('POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n');
    const chunk = Buffer.from(`10000\r\n${' '.repeat(0x10000)}\r\n`);
    const pump = (): void => {
      while (!endless.socket.destroyed && endless.socket.write(chunk));
      if (!endless.socket.destroyed) endless.socket.once('drain', pump);
    };
    pump();

    await Promise.all([slowHeaders.closed, slowBody.closed, endless.closed]);
    expect(slowHeaders.answer()).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n[\s\S]*request not complete within 1 s; closed/);
    expect(slowBody.answer()).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n[\s\S]*request not complete within 1 s; closed/);
    expect(endless.answer()).toMatch(/^HTTP\/1\.1 413 [\s\S]*over the 1048576-byte limit/);

    const post = async (body: string): Promise<{ status: number; text: string }> => {
      const res = await fetch(url, { method: 'POST', body });
      return { status: res.status, text: await res.text() };
    };
    const time = '"time":"2025-11-27T05:00:00Z"';
    expect(await post(`{"rule":"r","priority":"Notice",${time},"output_fields":{"n":1e400}}`)).toEqual({
      status: 400,
      text: 'output_fields["n"]: number out of range (beyond a 64-bit double)\n',
    });
    expect(await post(`{"rule":"r","priority":"Notice",${time},"output_fields":{"n":-1e400}}`)).toMatchObject({ status: 400 });
    expect(await post(`{"rule":"r","priority":99,${time}}`)).toEqual({ status: 400, text: '"priority" must be a string; got number\n' });
    expect((await post(`{"rule":"r","priority":"99",${time}}`)).text).toMatch(/^invalid alert: priority "99" is not a Falco priority/);

    attacking = false;
    await poster;
    send.kill('SIGTERM');
    expect(await exited).toBe(0);
    // 3 cut off, 4 refused: 7 malformed; the "99" priority is emitted and dropped as invalid.
    expect(stderr()).toMatch(sendSummary({ read: healthy + 7, malformed: 7, emitted: healthy + 1, acked: healthy, dropped: 1 }));
    expect(stderr()).toMatch(/http answers: 204 x\d+, 400 x4, 408 x2, 413 x1/);
    expect(stderr()).toMatch(/request \d+ from 127\.0\.0\.1:\d+: request not complete within 1 s; closed/);
    rx.child.kill('SIGTERM');
    await rx.exited;
    expect(existsSync(out)).toBe(true);
    const written = readFileSync(out, 'utf8').trim().split('\n');
    expect(written).toEqual(Array.from({ length: healthy }, (_, i) => ALERTS[i % ALERTS.length]));
  });

  it('a poster cut at the limit still reads its 413: the connection half-closes and drops what follows, not a reset, and closes even if the poster never stops', async () => {
    const { send, exited, port, stderr } = await httpSend([]);
    const chunk = Buffer.from(`10000\r\n${' '.repeat(0x10000)}\r\n`);
    /** A raw poster that keeps its own side open when the server half-closes, and records what it hears. */
    const poster = (head: string) => {
      const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
      sockets.push(socket);
      let answer = '';
      const errors: string[] = [];
      socket.on('data', (d: Buffer) => (answer += d.toString()));
      socket.on('error', (err: NodeJS.ErrnoException) => errors.push(err.code ?? err.message));
      const finReceived = new Promise<void>((resolve) => socket.once('end', resolve));
      const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
      socket.write(head);
      const write = (data: Buffer) => new Promise<void>((resolve, reject) => socket.write(data, (err) => (err ? reject(err) : resolve())));
      /** Sends chunks as fast as they go, until the server half-closes or (`forever`) until it is closed. */
      const pump = (forever: boolean): void => {
        let stop = false;
        if (!forever) void finReceived.then(() => (stop = true));
        const more = (): void => {
          while (!stop && !socket.destroyed && socket.write(chunk));
          if (!stop && !socket.destroyed) socket.once('drain', more);
        };
        more();
      };
      return { socket, answer: () => answer, errors, finReceived, closed, write, pump };
    };
    const chunked = 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n';
    const tooLarge = /^HTTP\/1\.1 413 [\s\S]*over the 1048576-byte limit/;
    /** Sends 1 MiB more after the answer, waiting on each write: a reset would fail one. Then closes its side. */
    const sendMoreAndLeave = async (p: ReturnType<typeof poster>): Promise<void> => {
      for (let i = 0; i < 16; i++) await p.write(chunk);
      p.socket.end();
      await p.closed;
    };

    // One stops once it has its answer: it may go on writing for a moment and is not reset.
    const polite = poster(chunked);
    polite.pump(false);
    await polite.finReceived;
    expect(polite.answer()).toMatch(tooLarge);
    await sendMoreAndLeave(polite);
    expect(polite.errors).toEqual([]);

    // One asks first (Expect: 100-continue, as curl does for a large body): it hears 413 before
    // it sends, and if it sends all the same (curl does after a second), it is not reset either.
    const asker = poster('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 20000000\r\nExpect: 100-continue\r\n\r\n');
    await asker.finReceived;
    expect(asker.answer()).toMatch(/^HTTP\/1\.1 413 [\s\S]*body of 20000000 bytes is over the 1048576-byte limit/);
    await sendMoreAndLeave(asker);
    expect(asker.errors).toEqual([]);

    // One never stops: it reads its answer too, and the server closes it all the same.
    const stubborn = poster(chunked);
    stubborn.pump(true);
    await stubborn.closed;
    expect(stubborn.answer()).toMatch(tooLarge);

    send.kill('SIGTERM');
    expect(await exited).toBe(0);
    // Three requests, each answered once: what they sent after their answer is no request of its own.
    expect(stderr()).toMatch(/http answers: 413 x3\n/);
    expect(stderr()).toMatch(sendSummary({ read: 3, malformed: 3, emitted: 0, acked: 0, dropped: 0 }));
  });

  it('closes connections past --http-max-connections on arrival, says so, and takes posts again once one closes', async () => {
    const { send, exited, url, port, stderr } = await httpSend(['--http-max-connections', '3']);

    // Three idle connections take every place.
    const idle = [attacker(port), attacker(port), attacker(port)];
    await Promise.all(idle.map((a) => new Promise((resolve) => a.socket.once('connect', resolve))));
    // Node counts a connection once its loop accepted it: probe until one is closed on arrival.
    const refused = /refused a connection from 127\.0\.0\.1:\d+: 3 connections are open, the most http_output may hold \(--http-max-connections\)/;
    for (let tries = 0; !refused.test(stderr()); tries++) {
      if (tries > 100) throw new Error(`no refusal after ${tries} probes: ${stderr()}`);
      const probe = attacker(port);
      await Promise.race([probe.closed, new Promise((resolve) => setTimeout(resolve, 200))]);
      probe.socket.destroy();
      await probe.closed;
      await new Promise((resolve) => setTimeout(resolve, 50)); // the line follows the close
    }
    expect(idle.every((a) => !a.socket.destroyed)).toBe(true);

    // One leaves: a poster gets its place, and its alert goes through.
    idle[0]!.socket.destroy();
    await idle[0]!.closed;
    for (let tries = 0; ; tries++) {
      const status = await fetch(url, { method: 'POST', body: ALERTS[0] }).then((r) => r.status, () => null); // null: closed on arrival, the close not seen yet
      if (status === 204) break;
      if (tries > 100) throw new Error(`no post taken after ${tries} tries (last: ${status}): ${stderr()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    for (const a of idle) a.socket.destroy();
    send.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr()).toMatch(sendSummary({ read: 1, malformed: 0, emitted: 1, acked: 1, dropped: 0 }));
  });
});
