// Server-Sent Events to each open console page: on connect the `get` history (or, after a
// reconnect, what the page missed), then every tick one `alerts` event with what arrived, and
// every second one `state` event. A page whose connection is backed up is not written to (its
// socket buffer stays bounded); the alerts it missed are counted and told to it as `skipped`.

import type { ServerResponse } from 'node:http';
import type { AlertFeed, FeedItem } from './feed.js';

export interface StreamOptions {
  /** How often arrived alerts go out. */
  tickMs: number;
  /** How often the state (counts, producers, subscribers, sink) goes out. */
  stateMs: number;
  /** A page with more than this many bytes unsent is skipped until it catches up. */
  maxBacklogBytes: number;
  /** Alerts of the history sent to a page that connects. */
  historyAlerts: number;
  /** Pages served at once; one more is answered 503. */
  maxPages: number;
}

export const STREAM_DEFAULTS: StreamOptions = { tickMs: 250, stateMs: 1000, maxBacklogBytes: 1024 * 1024, historyAlerts: 1000, maxPages: 64 };

interface Page {
  res: ServerResponse;
  /** Number of the newest alert this page has been told about (sent or skipped). */
  sentThrough: number;
  skipped: number;
}

export interface StreamStats {
  /** Pages connected now. */
  pages: number;
  /** Alerts not sent to a page (the feed's ring overflowed, or the page was backed up), every page so far. */
  skipped: number;
  /** Events not written to a backed-up page. */
  eventsHeldBack: number;
  /** The most bytes any open page has waiting to be sent now: bounded by maxBacklogBytes plus one tick's events. */
  largestBacklogBytes: number;
  /** Alerts accepted since each open page was last told, summed: sent at the next tick or counted as skipped. */
  waiting: number;
}

export class LiveStream {
  private readonly pages = new Set<Page>();
  private readonly timers: NodeJS.Timeout[] = [];
  private skippedByGone = 0;
  private eventsHeldBack = 0;

  constructor(
    private readonly feed: AlertFeed,
    /** Identifies this receiver process: a page that sees it change knows the receiver restarted. */
    private readonly instance: string,
    private readonly state: () => object,
    private readonly options: StreamOptions = STREAM_DEFAULTS,
  ) {}

  start(): void {
    const every = (ms: number, fn: () => void): void => {
      const t = setInterval(fn, ms);
      t.unref();
      this.timers.push(t);
    };
    every(this.options.tickMs, () => this.tick());
    every(this.options.stateMs, () => this.broadcastState());
  }

  /** Serves one page's event stream. `last` is the id of the last event it had (`instance:n`), if any. */
  open(res: ServerResponse, last: string | undefined): void {
    if (this.pages.size >= this.options.maxPages) {
      res.writeHead(503, { 'Content-Type': 'text/plain', 'Retry-After': '10' }).end(`${this.pages.size} console pages are open, the most served at once\n`);
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', 'X-Accel-Buffering': 'no' });
    res.socket?.setNoDelay(true);
    const page: Page = { res, sentThrough: 0, skipped: 0 };
    this.pages.add(page);
    this.feed.setCollecting(true);
    res.on('close', () => this.remove(page));

    const m = /^([0-9a-f]+):(\d+)$/.exec(last ?? '');
    const after = m && m[1] === this.instance ? Math.min(Number(m[2]), this.feed.total) : 0;
    const items = this.feed.history(after, this.options.historyAlerts);
    // A first load is not told how old the history is; a reconnect is told what it missed for good.
    const skipped = after > 0 ? this.feed.total - after - items.length : 0;
    page.sentThrough = this.feed.total;
    page.skipped += skipped;
    const hello = { instance: this.instance, resumed: after > 0, alertsPerSecond: this.feed.options.alertsPerSecond, burstAlerts: this.feed.options.ringAlerts };
    res.write(`retry: 2000\nevent: hello\ndata: ${JSON.stringify(hello)}\n\n`);
    res.write(this.alertsEvent(this.feed.total, skipped, items.map((i) => i.json).join(',')));
    res.write(this.stateEvent());
  }

  stats(): StreamStats {
    let skipped = this.skippedByGone;
    let largestBacklogBytes = 0;
    let waiting = 0;
    for (const p of this.pages) {
      skipped += p.skipped;
      largestBacklogBytes = Math.max(largestBacklogBytes, p.res.writableLength);
      waiting += this.feed.total - p.sentThrough;
    }
    return { pages: this.pages.size, skipped, eventsHeldBack: this.eventsHeldBack, largestBacklogBytes, waiting };
  }

  /** Ends every page's stream (the console is closing). */
  close(): void {
    for (const t of this.timers.splice(0)) clearInterval(t);
    for (const p of [...this.pages]) p.res.end();
  }

  private tick(): void {
    if (this.pages.size === 0) return;
    const items = this.feed.drain();
    const through = this.feed.total;
    let joinedAll: string | null = null;
    for (const page of this.pages) {
      if (page.sentThrough === through) continue;
      if (this.backedUp(page)) continue;
      // Usually every page is in step and shares one joined string.
      const fresh = items.length > 0 && items[0]!.n > page.sentThrough ? items : items.filter((i) => i.n > page.sentThrough);
      const joined = fresh === items ? (joinedAll ??= join(items)) : join(fresh);
      const skipped = through - page.sentThrough - fresh.length;
      page.skipped += skipped;
      page.sentThrough = through;
      page.res.write(this.alertsEvent(through, skipped, joined));
    }
  }

  private broadcastState(): void {
    if (this.pages.size === 0) return;
    const event = this.stateEvent();
    for (const page of this.pages) if (!this.backedUp(page)) page.res.write(event);
  }

  private backedUp(page: Page): boolean {
    if (page.res.writableLength <= this.options.maxBacklogBytes) return false;
    this.eventsHeldBack++;
    return true;
  }

  private alertsEvent(through: number, skipped: number, joined: string): string {
    return `id: ${this.instance}:${through}\nevent: alerts\ndata: {"through":${through},"skipped":${skipped},"alerts":[${joined}]}\n\n`;
  }

  private stateEvent(): string {
    return `event: state\ndata: ${JSON.stringify(this.state())}\n\n`;
  }

  private remove(page: Page): void {
    if (!this.pages.delete(page)) return;
    this.skippedByGone += page.skipped;
    if (this.pages.size === 0) this.feed.setCollecting(false);
  }
}

function join(items: readonly FeedItem[]): string {
  let out = '';
  for (let i = 0; i < items.length; i++) out += (i === 0 ? '' : ',') + items[i]!.json;
  return out;
}
