// Prometheus metrics mirrored from the stats objects the project already keeps: nothing is
// counted on the alert path; each scrape reads the current numbers in the metrics' collect().

import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';

/** Every metric name starts with this, the process's default metrics included. */
export const METRIC_PREFIX = 'falco_grpc_output_';

export type Labels = Record<string, string>;
/** One series of a metric: its labels and its current value. */
export type Sample = readonly [labels: Labels, value: number];

export interface MirroredMetric {
  /** Full name, prefix included. */
  name: string;
  help: string;
  labelNames?: readonly string[];
  /** The series as they are now; called once per scrape. */
  samples(): Iterable<Sample>;
}

/** A registry holding the process's default metrics (CPU, memory, event loop lag, ...) under the prefix. */
export function createMetricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
  return registry;
}

/** What a mirrored metric does at each scrape: forget the last reading, take the current one. */
interface Mirror {
  reset(): void;
  inc(labels: Labels, value: number): void;
}

function collectFrom(samples: () => Iterable<Sample>): (this: Mirror) => void {
  return function collect() {
    this.reset();
    for (const [labels, value] of samples()) this.inc(labels, value);
  };
}

function configOf(registry: Registry, metric: MirroredMetric) {
  const { name, help, labelNames = [] } = metric;
  return { name, help, labelNames, registers: [registry], collect: collectFrom(() => metric.samples()) };
}

/**
 * A counter mirroring a count that only grows, kept elsewhere. prom-client's Counter has no
 * set(), so each scrape resets it and adds the current totals; that also drops the series of a
 * source that is gone (a subscriber that left). Series with equal labels add up.
 */
export function addMirroredCounter(registry: Registry, metric: MirroredMetric): void {
  new Counter(configOf(registry, metric));
}

/** A gauge mirroring a level kept elsewhere; as with counters, series with equal labels add up. */
export function addMirroredGauge(registry: Registry, metric: MirroredMetric): void {
  new Gauge(configOf(registry, metric));
}

/**
 * `read` called at most once per scrape, so that every metric drawn from one stats object shows
 * the same moment (emitted = acked + pending + dropped holds within a scrape). prom-client calls
 * every collect() of a scrape in one synchronous pass; the reading is forgotten right after it.
 */
export function oncePerScrape<T>(read: () => T): () => T {
  let current: { value: T } | null = null;
  return () => {
    if (current === null) {
      current = { value: read() };
      queueMicrotask(() => (current = null));
    }
    return current.value;
  };
}
