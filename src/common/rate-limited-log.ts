// Log lines a peer can provoke at will (rejected handshakes, a failing sink under every
// producer's retries) must not flood the log: one line per kind every interval, and the next
// line says how many were held back.

import type { LogFn } from './log.js';

/** Kinds remembered at once; the oldest is forgotten beyond this (a peer varying its key gains nothing). */
const MAX_KINDS = 256;

export class RateLimitedLog {
  private readonly last = new Map<string, { at: number; held: number }>();

  constructor(
    private readonly log: LogFn,
    private readonly intervalMs = 10_000,
  ) {}

  /** Logs `line` unless a line of the same `kind` went out less than an interval ago. */
  say(kind: string, line: string): void {
    const now = Date.now();
    const entry = this.last.get(kind);
    if (entry && now - entry.at < this.intervalMs) {
      entry.held++;
      return;
    }
    this.last.delete(kind);
    if (this.last.size >= MAX_KINDS) this.last.delete(this.last.keys().next().value!);
    this.last.set(kind, { at: now, held: 0 });
    this.log(entry && entry.held > 0 ? `${line} (${entry.held} more like it since the last such line)` : line);
  }
}
