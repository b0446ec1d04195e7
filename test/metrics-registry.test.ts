// The Prometheus registry read from stats objects it does not own, scrape after scrape, and its
// HTTP server (in this process). The CLI's --metrics-listen end to end is in metrics.test.ts.

import { afterEach, describe, expect, it } from 'vitest';
import type { OutputStats, ReceiverStats } from '../dist/src/index.js';
import type { SubscriberStats } from '../dist/src/receiver/subscriptions.js';
import { createMetricsRegistry } from '../dist/src/metrics/registry.js';
import { registerReceiverMetrics } from '../dist/src/metrics/receiver-metrics.js';
import { registerInputMetrics, registerOutputMetrics } from '../dist/src/metrics/send-metrics.js';
import { startMetricsServer } from '../dist/src/metrics/server.js';
import { P, parseExposition, scrape, valueOf } from './helpers/exposition.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
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
