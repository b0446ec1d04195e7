// Prometheus metrics: `receive` and `send` child processes scraped over real HTTP while real
// alerts, a real subscriber and real HTTP posts go through them. The registry itself, read from
// stats objects it does not own, is in metrics-registry.test.ts.

import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { P, scrape, valueOf, type Series } from './helpers/exposition.js';
import { CLI, startReceiverProcess, waitFor } from './helpers/harness.js';
import { tempDir } from './helpers/pki.js';

const ALERTS = readFileSync(fileURLToPath(new URL('./fixtures/falco-alerts.jsonl', import.meta.url)), 'utf8').trim().split('\n');
const SUBSCRIBER = fileURLToPath(new URL('./fixtures/subscriber.mjs', import.meta.url));

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Scrapes until `check` holds for the samples, then returns them. */
async function scrapeUntil(url: string, what: string, check: (series: Series[]) => boolean): Promise<Series[]> {
  let last: Series[] = [];
  let busy = false;
  let failure: unknown = null;
  await waitFor(what, () => {
    if (failure !== null) throw failure;
    if (!busy) {
      busy = true;
      scrape(url).then(
        (s) => ((last = s), (busy = false)),
        (err: unknown) => (failure = err),
      );
    }
    return last.length > 0 && check(last);
  });
  return last;
}

interface Child {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<number | null>;
}

function run(command: 'send' | 'receive', args: string[], env: Record<string, string> = {}): Child {
  const child = spawn(process.execPath, [CLI, command, ...args], { stdio: ['pipe', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  cleanups.push(() => child.kill('SIGKILL'));
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, stderr: () => err, exited };
}

async function announced(child: Child, pattern: RegExp): Promise<string> {
  await waitFor(`${pattern} on stderr`, () => pattern.test(child.stderr()) || child.child.exitCode !== null, 20_000);
  const m = pattern.exec(child.stderr());
  if (!m) throw new Error(`exited without ${pattern}: ${child.stderr()}`);
  return m[1]!;
}

const METRICS_URL = /metrics on (http:\/\/\S+)/;

describe('receive and send --metrics-listen (child processes)', () => {
  it('count alerts in and acked, malformed inputs, producers and a subscriber, as they happen', async () => {
    const dir = tempDir('fgo-metrics-');
    const target = `unix://${join(dir, 'r.sock')}`;
    const receiver = await startReceiverProcess(['--listen', target, '--discard', '--metrics-listen', '127.0.0.1:0']);
    cleanups.push(() => receiver.child.kill('SIGKILL'));
    const receiverUrl = METRICS_URL.exec(receiver.stderr())![1]!;
    expect(valueOf(await scrape(receiverUrl), `${P}receiver_subscribers`)).toBe(0);

    const subscriber = spawn(process.execPath, [SUBSCRIBER, target], { stdio: ['pipe', 'pipe', 'inherit'] });
    cleanups.push(() => subscriber.kill('SIGKILL'));
    const subscriberLines: string[] = [];
    createInterface({ input: subscriber.stdout! }).on('line', (line) => subscriberLines.push(line));
    await scrapeUntil(receiverUrl, 'one subscriber', (s) => valueOf(s, `${P}receiver_subscribers`) === 1);

    // stdin stays open, so send is scraped while it runs.
    const send = run('send', ['--target', target, '--buffer-bytes', '65536', '--metrics-listen', '127.0.0.1:0']);
    const sendUrl = await announced(send, METRICS_URL);
    const input = [...ALERTS.slice(0, 5), '{"rule": broken', ...ALERTS.slice(5, 10), '{"rule":"r","priority":"loud","time":"2025-11-27T05:00:00Z"}'];
    send.child.stdin!.write(`${input.join('\n')}\n`);

    const output = { output: `grpc ${target}` };
    const sent = await scrapeUntil(sendUrl, '10 acked', (s) => valueOf(s, `${P}alerts_acked_total`, output) === 10);
    // The bad priority passes the JSON reader but not emit(): emitted, and dropped as invalid.
    expect(valueOf(sent, `${P}alerts_emitted_total`, output)).toBe(11);
    expect(valueOf(sent, `${P}alerts_pending`, output)).toBe(0);
    expect(valueOf(sent, `${P}ring_used_bytes`, output)).toBe(0);
    expect(valueOf(sent, `${P}ring_capacity_bytes`, output)).toBe(65536);
    expect(valueOf(sent, `${P}connected`, output)).toBe(1);
    const drops = sent.filter((s) => s.name === `${P}alerts_dropped_total`);
    expect(drops.map((s) => s.labels['reason']).sort()).toEqual(['failed', 'full', 'invalid', 'rejected', 'too_large', 'unacked_at_close']);
    expect(drops.every((s) => s.value === (s.labels['reason'] === 'invalid' ? 1 : 0) && s.labels['output'] === output.output)).toBe(true);
    expect(valueOf(sent, `${P}send_inputs_read_total`)).toBe(12);
    expect(valueOf(sent, `${P}send_inputs_malformed_total`)).toBe(2);
    expect(valueOf(sent, `${P}process_cpu_user_seconds_total`)).toBeGreaterThan(0);

    const received = await scrapeUntil(receiverUrl, 'the subscriber sent 10', (s) => valueOf(s, `${P}receiver_subscription_alerts_sent_total`) === 10);
    expect(valueOf(received, `${P}receiver_alerts_accepted_total`)).toBe(10);
    expect(valueOf(received, `${P}receiver_producers`)).toBe(1);
    expect(valueOf(received, `${P}receiver_streams`)).toBe(1);
    expect(valueOf(received, `${P}receiver_publish_requests_total`)).toBeGreaterThanOrEqual(1);
    expect(valueOf(received, `${P}receiver_rejected_streams_total`)).toBe(0);
    expect(valueOf(received, `${P}receiver_subscription_queued_alerts`)).toBe(0);
    expect(valueOf(received, `${P}receiver_subscription_alerts_dropped_total`)).toBe(0);
    expect(valueOf(received, `${P}receiver_subscriber_alerts_dropped_total`)).toBe(0);
    subscriber.stdin!.write('report\n');
    await waitFor('subscriber report', () => subscriberLines.some((l) => l.startsWith('{')));
    expect((JSON.parse(subscriberLines.find((l) => l.startsWith('{'))!) as { seqs: unknown[] }).seqs).toHaveLength(10);

    // End of input: send finishes on its own, its metrics server closed with it.
    send.child.stdin!.end();
    expect(await send.exited).toBe(0);
    await expect(fetch(sendUrl)).rejects.toThrow();

    subscriber.kill('SIGKILL');
    const after = await scrapeUntil(receiverUrl, 'subscriber and stream gone', (s) =>
      valueOf(s, `${P}receiver_subscribers`) === 0 && valueOf(s, `${P}receiver_streams`) === 0,
    );
    expect(after.some((s) => s.name.startsWith(`${P}receiver_subscription_`))).toBe(false);
    expect(valueOf(after, `${P}receiver_alerts_accepted_total`)).toBe(10);
    receiver.child.kill('SIGTERM');
    expect(await receiver.exited).toBe(0);
  });

  it('with the receiver down: alerts pending until the ring is full, then dropped as full; HTTP answers by code', async () => {
    const dir = tempDir('fgo-metrics-down-');
    const target = `unix://${join(dir, 'nobody.sock')}`;
    const send = run('send', ['--target', target, '--http-listen', '127.0.0.1:0', '--buffer-bytes', '65536', '--metrics-listen', '127.0.0.1:0', '--flush-timeout', '0']);
    const metricsUrl = await announced(send, METRICS_URL);
    const httpUrl = await announced(send, /listening on (http:\/\/\S+)/);

    const answers: Record<number, number> = {};
    const post = async (body: string): Promise<number> => {
      const res = await fetch(httpUrl, { method: 'POST', body, headers: { 'Content-Type': 'application/json' } });
      await res.arrayBuffer();
      answers[res.status] = (answers[res.status] ?? 0) + 1;
      return res.status;
    };
    // Nothing drains the 64 KiB ring: it fills within a few dozen alerts.
    let alert = '';
    for (let i = 0; answers[503] === undefined; i++) {
      if (i > 5000) throw new Error(`ring never filled: ${JSON.stringify(answers)}`);
      alert = ALERTS[i % ALERTS.length]!;
      expect([204, 503]).toContain(await post(alert));
    }
    expect(await post(alert)).toBe(503); // still no room for it
    expect(await post('{"rule": broken')).toBe(400);
    const accepted = answers[204]!;
    expect(accepted).toBeGreaterThan(0);

    const output = { output: `grpc ${target}` };
    const s = await scrape(metricsUrl);
    expect(valueOf(s, `${P}alerts_emitted_total`, output)).toBe(accepted + 2);
    expect(valueOf(s, `${P}alerts_dropped_total`, { ...output, reason: 'full' })).toBe(2);
    expect(valueOf(s, `${P}alerts_dropped_total`, { ...output, reason: 'too_large' })).toBe(0);
    expect(valueOf(s, `${P}alerts_pending`, output)).toBe(accepted);
    expect(valueOf(s, `${P}alerts_acked_total`, output)).toBe(0);
    expect(valueOf(s, `${P}connected`, output)).toBe(0);
    expect(valueOf(s, `${P}ring_used_bytes`, output)).toBeGreaterThan(65536 / 2);
    expect(valueOf(s, `${P}ring_used_bytes`, output)).toBeLessThanOrEqual(65536);
    expect(valueOf(s, `${P}send_http_responses_total`, { code: '204' })).toBe(accepted);
    expect(valueOf(s, `${P}send_http_responses_total`, { code: '503' })).toBe(2);
    expect(valueOf(s, `${P}send_http_responses_total`, { code: '400' })).toBe(1);
    expect(valueOf(s, `${P}send_inputs_read_total`)).toBe(accepted + 3);
    expect(valueOf(s, `${P}send_inputs_malformed_total`)).toBe(1);

    send.child.kill('SIGTERM');
    expect(await send.exited).toBe(1); // alerts left undelivered
  });

  it('refuses a bad --metrics-listen (flag or environment) with exit code 2 before anything listens', async () => {
    const dir = tempDir('fgo-metrics-bad-');
    const sock = join(dir, 'never.sock');
    const cases: Array<[command: 'send' | 'receive', args: string[], env: Record<string, string>, message: RegExp]> = [
      ['send', ['--metrics-listen', 'nowhere'], {}, /--metrics-listen \(or FALCO_GRPC_OUTPUT_METRICS_LISTEN\): expected host:port .*got "nowhere"/],
      ['send', [], { FALCO_GRPC_OUTPUT_METRICS_LISTEN: '127.0.0.1:99999' }, /FALCO_GRPC_OUTPUT_METRICS_LISTEN\): expected host:port .*got "127\.0\.0\.1:99999"/],
      ['receive', ['--metrics-listen', '9376'], {}, /--metrics-listen .*expected host:port .*got "9376"/],
    ];
    for (const [command, args, env, message] of cases) {
      const extra = command === 'send' ? ['--target', `unix://${sock}`, '--http-listen', '127.0.0.1:0'] : ['--listen', `unix://${sock}`];
      const child = run(command, [...extra, ...args], env);
      expect(await child.exited).toBe(2);
      expect(child.stderr()).toMatch(message);
      expect(child.stderr()).not.toMatch(/listening on|metrics on/);
      expect(existsSync(sock)).toBe(false);
    }
  });

  it('exits 2 naming the address when the metrics port is taken, before taking any alert', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => taken.close(resolve)));
    const busy = `127.0.0.1:${(taken.address() as AddressInfo).port}`;
    const dir = tempDir('fgo-metrics-busy-');
    const sock = join(dir, 'never.sock');
    for (const [command, args] of [
      ['receive', ['--listen', `unix://${sock}`]],
      ['send', ['--target', `unix://${sock}`, '--http-listen', '127.0.0.1:0']],
    ] as const) {
      const child = run(command, [...args, '--metrics-listen', busy]);
      expect(await child.exited).toBe(2);
      expect(child.stderr()).toContain(`cannot serve metrics on ${busy}: listen EADDRINUSE`);
      expect(child.stderr()).not.toMatch(/listening on/);
      expect(existsSync(sock)).toBe(false);
    }
  });
});
