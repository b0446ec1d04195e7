// Prometheus metrics: `receive` and `send` child processes scraped over real HTTP while real
// alerts, a real subscriber and real HTTP posts go through them; and the registry read from
// stats objects it does not own, scrape after scrape.

import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { OutputStats, ReceiverStats } from '../dist/src/index.js';
import type { SubscriberStats } from '../dist/src/receiver/subscriptions.js';
import { createMetricsRegistry } from '../dist/src/metrics/registry.js';
import { registerReceiverMetrics } from '../dist/src/metrics/receiver-metrics.js';
import { registerInputMetrics, registerOutputMetrics } from '../dist/src/metrics/send-metrics.js';
import { startMetricsServer } from '../dist/src/metrics/server.js';
import { CLI, startReceiverProcess, waitFor } from './helpers/harness.js';
import { tempDir } from './helpers/pki.js';

const ALERTS = readFileSync(fileURLToPath(new URL('./fixtures/falco-alerts.jsonl', import.meta.url)), 'utf8').trim().split('\n');
const SUBSCRIBER = fileURLToPath(new URL('./fixtures/subscriber.mjs', import.meta.url));
const P = 'falco_grpc_output_';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Series {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a Prometheus text exposition (comments aside). */
function parseExposition(text: string): Series[] {
  const series: Series[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not an exposition line: ${line}`);
    const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1]!, l[2]!]));
    series.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return series;
}

/** The value of the one series with this name and (at least) these labels; throws unless exactly one. */
function valueOf(series: readonly Series[], name: string, labels: Record<string, string> = {}): number {
  const found = series.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length !== 1) throw new Error(`${found.length} series ${name}${JSON.stringify(labels)}`);
  return found[0]!.value;
}

async function scrape(url: string): Promise<Series[]> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseExposition(await res.text());
}

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

describe('metrics registry (stats read at scrape time)', () => {
  const outputStats = (over: Partial<OutputStats> = {}): OutputStats => ({
    emitted: 0, acked: 0, pending: 0, pendingBytes: 0, dropped: 0,
    drops: { full: 0, too_large: 0, invalid: 0, rejected: 0, failed: 0, unacked_at_close: 0 },
    sent: 0, resent: 0, reconnects: 0, workerRestarts: 0, connection: 'idle', lastError: null, bufferBytes: 1024,
    ...over,
  });

  it('mirrors the current stats at each scrape, reading each source once per scrape', async () => {
    let receiverStats: ReceiverStats = {
      accepted: 7, filtered: 1, duplicates: 2, gaps: 3, requests: 4, rejectedStreams: 1,
      activeStreams: 2, producers: 2, subscribers: 2, subscriberDrops: 5,
    };
    let subscribers: SubscriberStats[] = [
      { peer: '10.0.0.1:5000', queued: 3, sent: 9, dropped: 5 },
      { peer: '10.0.0.2:5000', queued: 0, sent: 12, dropped: 0 },
    ];
    let grpc = outputStats({ emitted: 10, acked: 6, pending: 2, pendingBytes: 300, dropped: 2, drops: { full: 1, too_large: 0, invalid: 1, rejected: 0, failed: 0, unacked_at_close: 0 }, connection: 'ready' });
    const reads = { receiver: 0, subscribers: 0, grpc: 0, file: 0 };
    const registry = createMetricsRegistry();
    registerReceiverMetrics(registry, {
      stats: () => (reads.receiver++, receiverStats),
      subscriberStats: () => (reads.subscribers++, subscribers),
    });
    registerOutputMetrics(registry, [
      { name: 'grpc localhost:50051', stats: () => (reads.grpc++, grpc) },
      { name: 'file /var/log/falco.json', stats: () => (reads.file++, outputStats({ emitted: 10, acked: 10, reconnects: 1 })) },
    ]);
    const counters = { read: 12, malformed: 2, httpResponses: { 204: 10, 400: 2 } as Record<number, number> };
    registerInputMetrics(registry, counters);

    const text = await registry.metrics();
    expect(reads).toEqual({ receiver: 1, subscribers: 1, grpc: 1, file: 1 });
    const first = parseExposition(text);
    expect(first.every((s) => s.name.startsWith(P))).toBe(true);
    expect(text).toContain(`# TYPE ${P}receiver_alerts_accepted_total counter`);
    expect(text).toContain(`# TYPE ${P}receiver_subscribers gauge`);
    expect(text).toContain(`# TYPE ${P}alerts_dropped_total counter`);
    expect(text).toContain(`# TYPE ${P}alerts_pending gauge`);
    expect(valueOf(first, `${P}receiver_alerts_accepted_total`)).toBe(7);
    expect(valueOf(first, `${P}receiver_alerts_filtered_total`)).toBe(1);
    expect(valueOf(first, `${P}receiver_alerts_duplicates_skipped_total`)).toBe(2);
    expect(valueOf(first, `${P}receiver_alerts_missing_total`)).toBe(3);
    expect(valueOf(first, `${P}receiver_subscriber_alerts_dropped_total`)).toBe(5);
    expect(valueOf(first, `${P}receiver_subscription_queued_alerts`, { peer: '10.0.0.1:5000' })).toBe(3);
    expect(valueOf(first, `${P}receiver_subscription_alerts_dropped_total`, { peer: '10.0.0.1:5000' })).toBe(5);
    expect(valueOf(first, `${P}receiver_subscription_alerts_sent_total`, { peer: '10.0.0.2:5000' })).toBe(12);
    const grpcLabel = { output: 'grpc localhost:50051' };
    const fileLabel = { output: 'file /var/log/falco.json' };
    expect(valueOf(first, `${P}alerts_emitted_total`, grpcLabel)).toBe(10);
    expect(valueOf(first, `${P}alerts_dropped_total`, { ...grpcLabel, reason: 'full' })).toBe(1);
    expect(valueOf(first, `${P}alerts_dropped_total`, { ...grpcLabel, reason: 'invalid' })).toBe(1);
    expect(valueOf(first, `${P}ring_used_bytes`, grpcLabel)).toBe(300);
    expect(valueOf(first, `${P}ring_capacity_bytes`, grpcLabel)).toBe(1024);
    expect(valueOf(first, `${P}connected`, grpcLabel)).toBe(1);
    expect(valueOf(first, `${P}connected`, fileLabel)).toBe(0);
    expect(valueOf(first, `${P}reconnects_total`, fileLabel)).toBe(1);
    expect(valueOf(first, `${P}send_http_responses_total`, { code: '400' })).toBe(2);
    expect(valueOf(first, `${P}send_inputs_malformed_total`)).toBe(2);

    // Later: counts grew, one subscriber left. A second scrape right away sees it all.
    receiverStats = { ...receiverStats, accepted: 9, subscribers: 1 };
    subscribers = [subscribers[1]!];
    grpc = { ...grpc, acked: 8, pending: 0, pendingBytes: 0 };
    counters.read = 13;
    counters.httpResponses[503] = 1;
    const second = parseExposition(await registry.metrics());
    expect(reads).toEqual({ receiver: 2, subscribers: 2, grpc: 2, file: 2 });
    expect(valueOf(second, `${P}receiver_alerts_accepted_total`)).toBe(9);
    expect(valueOf(second, `${P}receiver_subscribers`)).toBe(1);
    expect(second.filter((s) => s.labels['peer'] === '10.0.0.1:5000')).toEqual([]);
    expect(valueOf(second, `${P}alerts_acked_total`, grpcLabel)).toBe(8);
    expect(valueOf(second, `${P}alerts_pending`, grpcLabel)).toBe(0);
    expect(valueOf(second, `${P}send_inputs_read_total`)).toBe(13);
    expect(valueOf(second, `${P}send_http_responses_total`, { code: '503' })).toBe(1);
  });

  it('serves GET and HEAD /metrics, 404 elsewhere, 405 for other methods, and stops on close', async () => {
    const registry = createMetricsRegistry();
    registerInputMetrics(registry, { read: 3, malformed: 0, httpResponses: {} });
    const server = await startMetricsServer('127.0.0.1:0', registry);
    cleanups.push(() => server.close());
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    expect(valueOf(await scrape(`${server.url}?from=prometheus`), `${P}send_inputs_read_total`)).toBe(3);
    const head = await fetch(server.url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    expect((await fetch(server.url.replace('/metrics', '/'))).status).toBe(404);
    const post = await fetch(server.url, { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    await server.close();
    await expect(fetch(server.url)).rejects.toThrow();
  });
});
