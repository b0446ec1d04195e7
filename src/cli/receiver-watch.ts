// What a running receiver says about its peers as it happens: transmitter streams opened and
// closed, streams refused for a bad message, subscribers that fell behind. It reads stats() once
// a second and prints at most a line every few seconds, whatever the churn.

import type { ReceiverStats } from '../receiver/receiver.js';

export interface ReceiverWatch {
  stop(): void;
}

const POLL_MS = 1000;
/** At most one line per this long: a storm of reconnects is one line, not a thousand. */
const LINE_EVERY_MS = 5000;

export function watchReceiver(stats: () => ReceiverStats, say: (line: string) => void): ReceiverWatch {
  let last = stats();
  let lastLine = -Infinity;
  /** Streams opened and closed since the last line (seen as changes of the open count, and of the request count for short ones). */
  let opened = 0;
  let closed = 0;
  let said = last;
  const timer = setInterval(() => {
    const now = stats();
    const delta = now.activeStreams - last.activeStreams;
    if (delta > 0) opened += delta;
    else closed -= delta;
    last = now;
    if (performance.now() - lastLine < LINE_EVERY_MS) return;
    const parts: string[] = [];
    if (opened > 0 || closed > 0) {
      parts.push(`transmitter streams: ${now.activeStreams} open (${opened} opened, ${closed} closed since the last line)`);
    }
    const refused = now.rejectedStreams - said.rejectedStreams;
    if (refused > 0) parts.push(`${refused} stream(s) ended for a malformed or invalid message`);
    const gaps = now.gaps - said.gaps;
    if (gaps > 0) parts.push(`${gaps} sequence number(s) skipped by producers: alerts that will never arrive`);
    const subDrops = now.subscriberDrops - said.subscriberDrops;
    if (subDrops > 0) parts.push(`subscribers fell behind and lost ${subDrops} alert(s) from their queues`);
    if (parts.length === 0) return;
    say(parts.join('; '));
    lastLine = performance.now();
    opened = 0;
    closed = 0;
    said = now;
  }, POLL_MS);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
