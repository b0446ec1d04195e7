// The console's tap on the receiver. For every accepted alert it does a fixed, small amount of
// work (numbers it, counts its priority and rule, and, while a browser watches, keeps it in a
// ring of the newest thousand); decoding and JSON happen once per tick for at most the ring's
// size. A flood therefore costs the receiver a few hundred nanoseconds an alert, never a queue
// that grows: what the ring overwrites is reported to each browser as skipped.

import type { ReceiverView } from '../receiver/receiver.js';
import { readPriorityAndRule, toConsoleAlert, type ConsoleAlert, type Counted } from './alert-view.js';

export interface FeedOptions {
  /** Newest alerts kept between two ticks while a browser watches; older ones are skipped. */
  ringAlerts: number;
  /** Distinct rules counted one by one; the rest are counted together. */
  maxRules: number;
  /** Seconds of alerts-per-second history. */
  seriesSeconds: number;
}

export const FEED_DEFAULTS: FeedOptions = { ringAlerts: 1000, maxRules: 500, seriesSeconds: 600 };

/** An alert ready for the page: its number and its JSON. */
export interface FeedItem {
  n: number;
  json: string;
}

export const OTHER_RULES = '(other rules)';

export class AlertFeed {
  /** Number of the newest alert accepted (the receiver's accepted count). */
  total = 0;
  readonly byPriority = new Array<number>(8).fill(0);
  private readonly byRule = new Map<string, number>();
  private readonly ring: Array<Buffer | undefined>;
  private ringStart = 0;
  private ringSize = 0;
  /** Number of the newest alert in the ring. */
  private ringThrough = 0;
  private collecting = false;
  private readonly counted: Counted = { priority: 0, rule: '' };
  private detachTap: (() => void) | null = null;
  private sampler: NodeJS.Timeout | null = null;
  /** [epoch second, alerts/s] */
  private readonly series: Array<[number, number]> = [];
  private lastSample = { atMs: 0, accepted: 0 };

  constructor(
    private readonly view: ReceiverView,
    readonly options: FeedOptions = FEED_DEFAULTS,
  ) {
    this.ring = new Array<Buffer | undefined>(options.ringAlerts);
  }

  /** Starts counting: alerts from now on are numbered after the receiver's accepted count. */
  attach(): void {
    if (this.detachTap) return;
    this.total = this.view.stats().accepted;
    this.ringThrough = this.total;
    this.lastSample = { atMs: Date.now(), accepted: this.total };
    this.detachTap = this.view.onAlerts((alerts) => this.take(alerts));
    this.sampler = setInterval(() => this.sample(), 1000);
    this.sampler.unref();
  }

  detach(): void {
    this.detachTap?.();
    this.detachTap = null;
    if (this.sampler) clearInterval(this.sampler);
    this.sampler = null;
  }

  /** Whether to keep alerts for browsers (only while at least one is connected). */
  setCollecting(on: boolean): void {
    this.collecting = on;
    if (!on) this.clearRing();
  }

  private take(alerts: readonly Buffer[]): void {
    const counted = this.counted;
    for (const alert of alerts) {
      readPriorityAndRule(alert, counted);
      if (counted.priority >= 0 && counted.priority < 8) this.byPriority[counted.priority]!++;
      const n = this.byRule.get(counted.rule);
      if (n !== undefined) this.byRule.set(counted.rule, n + 1);
      else if (this.byRule.size < this.options.maxRules) this.byRule.set(counted.rule, 1);
      else this.byRule.set(OTHER_RULES, (this.byRule.get(OTHER_RULES) ?? 0) + 1);
    }
    this.total += alerts.length;
    if (!this.collecting) return;
    // Only the newest ringAlerts of the run can stay: older ones would be overwritten at once.
    const cap = this.ring.length;
    for (let i = Math.max(0, alerts.length - cap); i < alerts.length; i++) {
      this.ring[(this.ringStart + this.ringSize) % cap] = alerts[i];
      if (this.ringSize === cap) this.ringStart = (this.ringStart + 1) % cap;
      else this.ringSize++;
    }
    this.ringThrough = this.total;
  }

  /** The alerts kept since the last call, oldest first, as page JSON; empties the ring. */
  drain(): FeedItem[] {
    const items: FeedItem[] = [];
    const first = this.ringThrough - this.ringSize + 1;
    for (let i = 0; i < this.ringSize; i++) {
      const bytes = this.ring[(this.ringStart + i) % this.ring.length]!;
      items.push(item(bytes, first + i));
    }
    this.clearRing();
    return items;
  }

  /** The `get` history after alert `after` (all of it for 0), newest `limit` at most, as page JSON. */
  history(after: number, limit: number): FeedItem[] {
    const recent = this.view.recentAlerts();
    const first = this.total - recent.length + 1;
    const from = Math.max(0, after - first + 1, recent.length - limit);
    const items: FeedItem[] = [];
    for (let i = from; i < recent.length; i++) items.push(item(recent[i]!, first + i));
    return items;
  }

  /** The `limit` rules with the most alerts, most first. */
  topRules(limit: number): Array<[string, number]> {
    return [...this.byRule].sort((a, b) => b[1] - a[1]).slice(0, limit);
  }

  get rulesCounted(): number {
    return this.byRule.size;
  }

  /** Alerts per second, one point a second, oldest first. */
  rateSeries(): ReadonlyArray<readonly [number, number]> {
    return this.series;
  }

  private sample(): void {
    const now = Date.now();
    const accepted = this.view.stats().accepted;
    const seconds = (now - this.lastSample.atMs) / 1000;
    if (seconds <= 0) return;
    this.series.push([Math.round(now / 1000), (accepted - this.lastSample.accepted) / seconds]);
    if (this.series.length > this.options.seriesSeconds) this.series.shift();
    this.lastSample = { atMs: now, accepted };
  }

  private clearRing(): void {
    this.ring.fill(undefined);
    this.ringStart = 0;
    this.ringSize = 0;
    this.ringThrough = this.total;
  }
}

function item(bytes: Buffer, n: number): FeedItem {
  const alert: ConsoleAlert = toConsoleAlert(bytes, n);
  return { n, json: JSON.stringify(alert) };
}
