// What a running command says about its outputs as it happens: a connection that fails (and
// why), a cause that changes, a reconnect, the first drop of an episode and its end. It polls
// stats() a few times a second from a timer, so emit() pays nothing for it.

import type { DropCounts, OutputStats } from '../host/output.js';

export interface WatchedOutput {
  readonly name: string;
  stats(): OutputStats;
}

export interface OutputWatchOptions {
  /** How often stats() is read. Default 250 ms. */
  intervalMs?: number;
  /** A drop episode ends after this long without a new drop. Default 2000 ms. */
  quietMs?: number;
  /** The library's words for the user's (tls.ca → --tls-ca). Default: as they are. */
  words?: (text: string) => string;
}

export interface OutputWatch {
  /** Reads the stats now (also done on the timer). */
  poll(): void;
  /** Ends the watch; an open drop episode is reported first. */
  stop(): void;
}

/** Drop reasons the watch reports: `invalid` is the input's fault, and reported line by line. */
const WATCHED_DROPS = ['full', 'too_large', 'rejected', 'failed', 'spool_full', 'corrupt'] as const;

const WHY_DROPPED: Record<(typeof WATCHED_DROPS)[number], string> = {
  full: 'its buffer is full (the destination is slow or down)',
  too_large: 'alerts larger than it takes',
  rejected: 'the receiver refused them',
  failed: 'the channel gave up on them after its retries',
  spool_full: 'its spool is at its maxBytes (whenFull gives alerts up)',
  corrupt: 'they were damaged in its spool on disk',
};

interface Seen {
  error: string | null;
  failing: boolean;
  /** The failure was said (with its cause, or that the stream ended). */
  announced: boolean;
  /** Not ready was seen since the failure began: ready now is a connection made again. */
  sawDown: boolean;
  failingSince: number;
  everReady: boolean;
  reconnects: number;
  /** sent and acked as last seen: progress between two polls means a connection was up meanwhile. */
  sent: number;
  acked: number;
  /** The drop counts as last seen. */
  drops: DropCounts;
  episode: { since: number; last: number; from: DropCounts } | null;
}

function dropsOf(drops: DropCounts): number {
  return WATCHED_DROPS.reduce((n, reason) => n + drops[reason], 0);
}

function causeOf(error: string): string {
  const at = error.indexOf('; ');
  return at < 0 ? error : error.slice(at + 2);
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
}

export function watchOutputs(outputs: readonly WatchedOutput[], say: (line: string) => void, options: OutputWatchOptions = {}): OutputWatch {
  const quietMs = options.quietMs ?? 2000;
  const words = options.words ?? ((text: string) => text);
  const seen = new Map<WatchedOutput, Seen>();
  for (const output of outputs) {
    const s = output.stats();
    seen.set(output, {
      error: s.lastError,
      failing: false,
      announced: false,
      sawDown: false,
      failingSince: 0,
      everReady: s.connection === 'ready',
      reconnects: s.reconnects,
      sent: s.sent,
      acked: s.acked,
      drops: { ...s.drops },
      episode: null,
    });
  }

  const endEpisode = (output: WatchedOutput, state: Seen, s: OutputStats, now: number, final: boolean): void => {
    const episode = state.episode!;
    state.episode = null;
    const counts = WATCHED_DROPS.map((r) => [r, s.drops[r] - episode.from[r]] as const).filter(([, n]) => n > 0);
    const total = counts.reduce((n, [, c]) => n + c, 0);
    const what = `${total} alert(s) dropped over ${seconds(episode.last - episode.since)} (${counts.map(([r, n]) => `${r} ${n}`).join(', ')})`;
    say(final ? `${output.name}: ${what}, until the end` : `${output.name}: stopped dropping: ${what}; none for ${seconds(now - episode.last)} since`);
  };

  const check = (output: WatchedOutput, state: Seen, now: number, final: boolean): void => {
    const s = output.stats();
    const grpc = output.name.startsWith('grpc ');
    const ready = s.connection === 'ready';
    // A failure with a diagnosed cause ("...; the receiver ...") is new when the cause is.
    const newError = s.lastError !== null && causeOf(s.lastError) !== (state.error === null ? null : causeOf(state.error));
    const reconnected = s.reconnects > state.reconnects;
    const announce = (text: string | null): void => {
      const what = grpc ? (state.everReady ? 'disconnected' : 'cannot connect') : 'failing';
      say(`${output.name}: ${what}: ${text === null ? 'the stream ended; reconnecting' : words(text)}`);
      state.announced = true;
    };
    // A connection that came and went between two polls (a receiver stopped right after its acks)
    // was never seen ready; alerts sent or acked since the last poll say it was up: the gRPC sender
    // writes only on an open stream. Its end is then a disconnect, not a failure to connect.
    if (!ready && (s.sent > state.sent || s.acked > state.acked)) state.everReady = true;
    if (!state.failing && (newError || (reconnected && !ready))) {
      state.failing = true;
      state.failingSince = now;
      state.announced = false;
      // A reconnect seen since the last poll means that being ready now is a new connection.
      state.sawDown = !ready || reconnected;
    }
    if (state.failing) {
      if (!ready) state.sawDown = true;
      // The status text comes from the worker a moment after the counters: wait one poll for it.
      // grpc-js's bare "Failed to connect" is followed by the sender's probe of the cause: worth a moment's wait.
      const vague = s.lastError !== null && s.lastError.endsWith('Failed to connect');
      const waitMs = vague ? 3500 : 500;
      if (newError && state.announced) {
        say(`${output.name}: still ${grpc ? 'not connected' : 'failing'}; the cause is now: ${words(s.lastError!)}`);
      } else if (!state.announced && ((newError && !vague) || now - state.failingSince >= waitMs || final)) {
        announce(s.lastError);
      }
      if (ready && state.sawDown && state.announced) {
        say(`${output.name}: ${grpc ? 'connected' : 'delivering'} again after ${seconds(now - state.failingSince)}`);
        state.failing = false;
      }
    } else if (reconnected && ready && grpc && state.everReady) {
      say(`${output.name}: reconnected`); // down and back up between two polls
    }
    state.error = s.lastError;
    state.reconnects = s.reconnects;
    state.sent = s.sent;
    state.acked = s.acked;
    if (ready) state.everReady = true;

    if (dropsOf(s.drops) > dropsOf(state.drops)) {
      if (state.episode === null) {
        const reasons = WATCHED_DROPS.filter((r) => s.drops[r] > state.drops[r]);
        say(`${output.name}: dropping alerts: ${reasons.map((r) => WHY_DROPPED[r]).join('; ')}. Each one is counted; a line follows when it stops`);
        // Counted from before the episode's first drop, not from this poll.
        state.episode = { since: now, last: now, from: state.drops };
      }
      state.episode.last = now;
      state.drops = { ...s.drops };
    }
    if (state.episode && (final || now - state.episode.last >= quietMs)) endEpisode(output, state, s, now, final);
  };

  const poll = (final = false): void => {
    const now = performance.now();
    for (const [output, state] of seen) check(output, state, now, final);
  };
  const timer = setInterval(() => poll(), options.intervalMs ?? 250);
  timer.unref();
  return {
    poll: () => poll(),
    stop: () => {
      clearInterval(timer);
      poll(true);
    },
  };
}
