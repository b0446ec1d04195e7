// The console's tap on the receiver. For every accepted alert it does a fixed, small amount of
// work without allocating (numbers it, counts its priority and rule, and, while a browser
// watches, keeps a reference in a ring of the newest thousand); decoding and JSON happen once a
// tick, for at most alertsPerSecond alerts a second (a burst of up to the ring's size passes at
// once). A flood therefore costs the receiver a little per alert and never a queue that grows:
// what the ring overwrites or the rate leaves out is reported to each page as skipped.

import type { ReceiverView } from '../receiver/receiver.js';
import { AlertCounter, toConsoleAlert, type ConsoleAlert } from './alert-view.js';

export interface FeedOptions {
  /** Newest alerts kept between two ticks while a browser watches; older ones are skipped. Also the largest burst sent at once. */
  ringAlerts: number;
  /** Alerts decoded and sent to pages per second, sustained (each page gets the same ones). */
  alertsPerSecond: number;
  /** Distinct rules counted one by one; the rest are counted together. */
  maxRules: number;
  /** Seconds of alerts-per-second history. */
  seriesSeconds: number;
}

// 250 a second is more than a person reads; decoding them costs the receiver ~1 % of a core.
export const FEED_DEFAULTS: FeedOptions = { ringAlerts: 1000, alertsPerSecond: 250, maxRules: 500, seriesSeconds: 600 };

/** An alert ready for the page: its number and its JSON. */
export interface FeedItem {
  n: number;
  json: string;
}

export class AlertFeed {
  /** Number of the newest alert accepted (the receiver's accepted count). */
  total = 0;
  private readonly counter: AlertCounter;
  private readonly ring: Array<Buffer | undefined>;
  private ringStart = 0;
  private ringSize = 0;
  /** Number of the newest alert in the ring. */
  private ringThrough = 0;
  private collecting = false;
  /** Alerts that may still be sent (a token bucket: ringAlerts deep, alertsPerSecond refill). */
  private allowance: number;
  private lastDrainMs = Date.now();
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
    this.counter = new AlertCounter(options.maxRules);
    this.allowance = options.ringAlerts;
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
    for (const alert of alerts) this.counter.add(alert);
    this.total += alerts.length;
    if (!this.collecting) return;
    // Only the newest ringAlerts of the run can stay: older ones would be overwritten at once.
    const cap = this.ring.length;
    for (let i = Math.max(0, alerts.length - cap); i < alerts.length; i++) {
      // A copy: the alert is a view into its request, which it would otherwise keep in memory.
      this.ring[(this.ringStart + this.ringSize) % cap] = Buffer.from(alerts[i]!);
      if (this.ringSize === cap) this.ringStart = (this.ringStart + 1) % cap;
      else this.ringSize++;
    }
    this.ringThrough = this.total;
  }

  /** The newest alerts kept since the last call that the rate allows, oldest first, as page JSON; empties the ring. */
  drain(): FeedItem[] {
    const now = Date.now();
    const { ringAlerts, alertsPerSecond } = this.options;
    this.allowance = Math.min(ringAlerts, this.allowance + ((now - this.lastDrainMs) * alertsPerSecond) / 1000);
    this.lastDrainMs = now;
    const take = Math.min(this.ringSize, Math.floor(this.allowance));
    this.allowance -= take;
    const items: FeedItem[] = [];
    const first = this.ringThrough - take + 1;
    for (let i = this.ringSize - take; i < this.ringSize; i++) {
      const bytes = this.ring[(this.ringStart + i) % this.ring.length]!;
      items.push(item(bytes, first + i - (this.ringSize - take)));
    }
    this.clearRing();
    return items;
  }

  /** The `get` history after alert `after` (all of it for 0), newest `limit` at most, as page JSON. */
  history(after: number, limit: number): FeedItem[] {
    const recent = this.view.recentAlerts(limit);
    const first = this.total - recent.length + 1;
    const from = Math.max(0, after - first + 1, recent.length - limit);
    const items: FeedItem[] = [];
    for (let i = from; i < recent.length; i++) items.push(item(recent[i]!, first + i));
    return items;
  }

  /** Alerts counted by priority, 0 Emergency ... 7 Debug. */
  get byPriority(): readonly number[] {
    return this.counter.byPriority;
  }

  /** The `limit` rules with the most alerts, most first. */
  topRules(limit: number): Array<[string, number]> {
    return this.counter.top(limit);
  }

  get rulesCounted(): number {
    return this.counter.size;
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
