// `send` says why, while it happens: a receiver that is down, that refuses the client's
// certificate, whose certificate the client does not trust, or that wants TLS when spoken to in
// plaintext (and the other way round); disconnects and reconnects; the first drop and the end of
// a drop episode; what SIGTERM waits for. Real send and receive child processes, real sockets,
// real mTLS with certificates made here.

import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDevPki } from '../dist/src/index.js';
import { CLI, sendSummary, startReceiverProcess, waitFor, type ReceiverProcess } from './helpers/harness.js';
import { tempDir, testPki, writePki } from './helpers/pki.js';

const ALERTS = readFileSync(fileURLToPath(new URL('./fixtures/falco-alerts.jsonl', import.meta.url)), 'utf8').trim().split('\n');

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

interface Running {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<number | null>;
  running: () => boolean;
}

function startSend(args: string[]): Running {
  const child = spawn(process.execPath, [CLI, 'send', ...args], { stdio: ['pipe', 'ignore', 'pipe'] });
  children.push(child);
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, stderr: () => err, exited, running: () => child.exitCode === null && child.signalCode === null };
}

async function receiver(args: string[]): Promise<ReceiverProcess> {
  const r = await startReceiverProcess(args);
  children.push(r.child);
  return r;
}

const PKI = writePki(testPki());
const OTHER = writePki(createDevPki({ name: 'other' }));
const mtlsServer = (dir = PKI) => ['--tls-ca', join(dir, 'ca.crt'), '--tls-cert', join(dir, 'server.crt'), '--tls-key', join(dir, 'server.key')];
const client = (ca = PKI, cert = PKI) => ['--tls-ca', join(ca, 'ca.crt'), '--tls-cert', join(cert, 'client.crt'), '--tls-key', join(cert, 'client.key')];

/** Noise that must never reach a user's terminal. */
function expectNoStrayLines(stderr: string): void {
  expect(stderr).not.toMatch(/DEP0123|DeprecationWarning|No address added|--trace-warnings|--trace-deprecation/);
}

describe('send says why it cannot deliver, as it happens and in the summary', () => {
  it.each([
    ['a receiver that is not running', null, () => client(), /UNAVAILABLE: [^\n]*ECONNREFUSED 127\.0\.0\.1/, 'ECONNREFUSED'],
    ['a client certificate from another CA', mtlsServer(), () => client(PKI, OTHER), /refused this transmitter's client certificate, which must be issued by a CA the receiver trusts \(--tls-cert, --tls-key\)/, "refused this transmitter's client certificate"],
    ['a --tls-ca that did not sign the receiver', mtlsServer(), () => client(OTHER, PKI), /the receiver's certificate is not signed by the CA this transmitter trusts \(--tls-ca\)/, 'is not signed by the CA this transmitter trusts'],
    ['plaintext against an mTLS receiver', mtlsServer(), () => ['--insecure'], /it most likely expects TLS \(mTLS\), and this transmitter speaks plaintext \(--insecure\)/, 'it most likely expects TLS'],
    ['mTLS against a plaintext receiver', ['--insecure'], () => client(), /the receiver does not speak TLS: it is most likely plaintext \(--insecure\)/, 'the receiver does not speak TLS'],
  ] as const)('%s', async (_name, serverArgs, clientArgs, cause, phrase) => {
    let target = '127.0.0.1:1'; // nothing listens on port 1
    if (serverArgs !== null) target = (await receiver(['--listen', '127.0.0.1:0', '--discard', ...serverArgs])).addresses[0]!;
    const send = startSend(['--target', target, ...clientArgs(), '--flush-timeout', '1']);
    send.child.stdin!.write(`${ALERTS[0]}\n${ALERTS[1]}\n`);
    // Said while send still runs, with its input still open: not only at the end. On the first
    // line, or, when the sender's probe of the cause answers after that line (a busy machine),
    // on the line that follows it.
    const said = new RegExp(`(?:cannot connect|still not connected; the cause is now): .*${cause.source}`);
    await waitFor(() => `the cause on stderr (${send.stderr()})`, () => said.test(send.stderr()));
    expect(send.running()).toBe(true);
    send.child.stdin!.end();
    expect(await send.exited).toBe(1);
    const stderr = send.stderr();
    expect(stderr.split('\n').filter((line) => said.test(line))).toHaveLength(1); // said once: a retry with the same cause is not news
    expect(stderr).toMatch(sendSummary({ read: 2, malformed: 0, emitted: 2, acked: 0, dropped: 2 }));
    expect(stderr).toMatch(/dropped 2 \(unacked_at_close 2: still unacknowledged when --flush-timeout ran out\)/);
    // Once more in the summary.
    const lastError = stderr.split('\n').find((line) => line.includes(': last error: '));
    expect(lastError).toContain(phrase);
    expectNoStrayLines(stderr);
  });

  it('a healthy mTLS run to an IP address prints nothing but the summary', async () => {
    const { addresses } = await receiver(['--listen', '127.0.0.1:0', '--discard', ...mtlsServer()]);
    const send = startSend(['--target', addresses[0]!, ...client()]);
    send.child.stdin!.end(`${ALERTS.slice(0, 3).join('\n')}\n`);
    expect(await send.exited).toBe(0);
    expect(send.stderr().trim().split('\n')).toEqual([
      'falco-grpc-output send: read 3, malformed 0',
      `falco-grpc-output send: grpc ${addresses[0]}: emitted 3, acked 3, dropped 0`,
    ]);
  });
});

describe('long-running send reports disconnects, reconnects and drop episodes', () => {
  it('--follow: the receiver goes away and comes back; send says both, and every alert arrives', async () => {
    const dir = tempDir();
    const sock = join(dir, 'r.sock');
    const out = join(dir, 'out.jsonl');
    let rx = await receiver(['--listen', `unix://${sock}`, '--output-file', out]);
    const file = join(dir, 'falco.jsonl');
    writeFileSync(file, `${ALERTS.slice(0, 10).join('\n')}\n`);
    const send = startSend(['--target', `unix://${sock}`, '--input', file, '--follow']);
    const received = (): number => readFileSync(out, 'utf8').split('\n').filter(Boolean).length;
    await waitFor('10 alerts at the receiver', () => { try { return received() >= 10; } catch { return false; } });

    rx.child.kill('SIGTERM');
    await rx.exited;
    appendFileSync(file, `${ALERTS.slice(10, 20).join('\n')}\n`);
    await waitFor(() => `"disconnected" (${send.stderr()})`, () => /grpc unix:[^\n]*: disconnected: [^\n]*(ENOENT|ECONNREFUSED|stream ended)/.test(send.stderr()), 90_000);

    rx = await receiver(['--listen', `unix://${sock}`, '--output-file', out]);
    await waitFor(() => `"connected again" (${send.stderr()})`, () => /grpc unix:[^\n]*: connected again after [\d.]+ s/.test(send.stderr()), 90_000);
    await waitFor('20 alerts at the receiver', () => received() >= 20);

    send.child.kill('SIGTERM');
    expect(await send.exited).toBe(0);
    const stderr = send.stderr();
    expect(stderr).toMatch(/SIGTERM: stopped reading input; waiting up to 60 s \(--flush-timeout\) for \d+ alert\(s\) not yet acknowledged; SIGTERM again exits at once/);
    expect(stderr).toMatch(sendSummary({ read: 20, malformed: 0, emitted: 20, acked: 20, dropped: 0 }));
    expect(readFileSync(out, 'utf8').split('\n').filter(Boolean)).toEqual(ALERTS.slice(0, 20));
  });

  it('--http-listen: the first drop of an episode and its end, counted the same in the summary, the metrics and the HTTP answers', async () => {
    const dir = tempDir();
    const sock = `unix://${join(dir, 'r.sock')}`;
    const rx = await receiver(['--listen', sock, '--discard', '--control-stdin']);
    const send = startSend(['--target', sock, '--http-listen', '127.0.0.1:0', '--buffer-bytes', '64KiB', '--metrics-listen', '127.0.0.1:0']);
    await waitFor('send to listen', () => /listening on http:\/\/\S+/.test(send.stderr()) && /metrics on http:\/\/\S+/.test(send.stderr()));
    const url = /listening on (http:\/\/\S+)/.exec(send.stderr())![1]!;
    const metricsUrl = /metrics on (http:\/\/\S+)/.exec(send.stderr())![1]!;
    const post = async (i: number): Promise<number> => (await fetch(url, { method: 'POST', body: ALERTS[i % ALERTS.length] })).status;

    expect(await post(0)).toBe(204);
    const scrape = async (): Promise<string> => (await fetch(metricsUrl)).text();
    const acked = async (): Promise<number> => Number(/falco_grpc_output_alerts_acked_total\{[^}]*\} (\d+)/.exec(await scrape())?.[1] ?? 0);
    while ((await acked()) < 1) await new Promise((resolve) => setTimeout(resolve, 20)); // connected and delivering
    rx.child.stdin!.write('stall\n'); // the receiver takes no more, so nothing is acknowledged
    let refused = 0;
    let i = 1;
    while (refused < 5) if ((await post(i++)) === 503) refused++;
    await waitFor(() => `the drop episode's first line (${send.stderr()})`, () => send.stderr().includes('dropping alerts: its buffer is full (the destination is slow or down)'));
    rx.child.stdin!.write('resume\n');
    await waitFor(() => `the end of the episode (${send.stderr()})`, () => /stopped dropping: 5 alert\(s\) dropped over [\d.]+ s \(full 5\)/.test(send.stderr()));
    expect(await post(i++)).toBe(204);

    const metrics = await scrape();
    expect(metrics).toMatch(/falco_grpc_output_alerts_dropped_total\{output="grpc [^"]+",reason="full"\} 5\n/);
    expect(metrics).toMatch(/falco_grpc_output_send_http_responses_total\{code="503"\} 5\n/);
    send.child.kill('SIGTERM');
    expect(await send.exited).toBe(1); // 5 alerts were lost, and said so
    const stderr = send.stderr();
    expect(stderr.match(/dropping alerts/g)).toHaveLength(1);
    expect(stderr).toMatch(/SIGTERM: stopped reading input; finishing the requests in hand \(up to 5 s\), then waiting up to 60 s \(--flush-timeout\)/);
    expect(stderr).toMatch(sendSummary({ read: i, malformed: 0, emitted: i, acked: i - 5, dropped: 5 }));
    expect(stderr).toMatch(/dropped 5 \(full 5: its buffer was full\)/);
    expect(stderr).toMatch(/http answers: 204 x\d+, 503 x5/);
  });

  it('SIGTERM with the receiver down says what it waits for, and how long; what is given up is counted', async () => {
    const send = startSend(['--target', `unix://${join(tempDir(), 'nobody.sock')}`, '--flush-timeout', '2']);
    send.child.stdin!.write(`${ALERTS.slice(0, 3).join('\n')}\n`);
    await waitFor('the cause', () => send.stderr().includes('cannot connect'));
    send.child.kill('SIGTERM');
    expect(await send.exited).toBe(1);
    const stderr = send.stderr();
    expect(stderr).toContain('SIGTERM: stopped reading input; waiting up to 2 s (--flush-timeout) for 3 alert(s) not yet acknowledged; SIGTERM again exits at once');
    expect(stderr).toMatch(sendSummary({ read: 3, malformed: 0, emitted: 3, acked: 0, dropped: 3 }));
  });
});

describe('send waiting for room', () => {
  it('waits for ring room without blocking: the cause is said meanwhile, and SIGTERM ends the wait', async () => {
    // No receiver and a 64 KiB ring: the 1,000 lines do not fit, so send waits for room that never comes.
    const send = startSend(['--target', `unix://${join(tempDir(), 'nobody.sock')}`, '--buffer-bytes', '64KiB', '--flush-timeout', '1']);
    send.child.stdin!.write(`${ALERTS.join('\n')}\n`);
    await waitFor('the cause while waiting', () => send.stderr().includes('cannot connect: UNAVAILABLE'));
    send.child.kill('SIGTERM');
    expect(await send.exited).toBe(1);
    const stderr = send.stderr();
    const read = Number(/read (\d+), malformed 0/.exec(stderr)?.[1]);
    expect(read).toBeGreaterThan(0);
    expect(read).toBeLessThan(ALERTS.length);
    // The line read while waiting is not sent, like the rest of the input: emitted = read - 1, all of it dropped.
    expect(stderr).toMatch(sendSummary({ read, malformed: 0, emitted: read - 1, acked: 0, dropped: read - 1 }));
    expect(stderr).not.toMatch(/SIGTERM again: exiting/);
  });
});

describe('a long-running receive reports its transmitters', () => {
  it('says when transmitter streams open and close, and what SIGTERM finishes', async () => {
    const sock = `unix://${join(tempDir(), 'r.sock')}`;
    const rx = await receiver(['--listen', sock, '--discard']);
    const send = startSend(['--target', sock]);
    send.child.stdin!.write(`${ALERTS[0]}\n`);
    await waitFor(() => `a stream opened (${rx.stderr()})`, () => /transmitter streams: 1 open \(1 opened, 0 closed since the last line\)/.test(rx.stderr()));
    send.child.stdin!.end();
    expect(await send.exited).toBe(0);
    await waitFor(() => `the stream closed (${rx.stderr()})`, () => /transmitter streams: 0 open \(0 opened, 1 closed since the last line\)/.test(rx.stderr()));
    rx.child.kill('SIGTERM');
    expect(await rx.exited).toBe(0);
    expect(rx.stderr()).toMatch(/SIGTERM: no longer accepting; finishing and acknowledging what 0 open stream\(s\) have in hand \(up to 10 s\), then flushing the output/);
    expect(rx.stderr()).toMatch(/stopped; accepted 1, duplicates skipped 0, gaps 0/);
  });
});
