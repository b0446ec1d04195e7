// Receiver fault modes for load tests: wraps a sink so acks can be held back (stall) or
// delayed (slow). A stalled sink makes the receiver stop reading, as a hung receiver would.

import type { AlertRun, Sink } from '../receiver/sinks.js';

export class FaultSink implements Sink {
  private gate: Promise<void> | null = null;
  private openGate: (() => void) | null = null;
  private delayMs = 0;

  constructor(private readonly inner: Sink) {}

  /** Holds every write (so every ack) until resume(). */
  stall(): void {
    if (this.gate) return;
    this.gate = new Promise((resolve) => (this.openGate = resolve));
  }

  resume(): void {
    this.openGate?.();
    this.gate = null;
    this.openGate = null;
  }

  /** Delays each write, so each ack, by `ms`. */
  slow(ms: number): void {
    this.delayMs = ms;
  }

  async write(run: AlertRun): Promise<void> {
    while (this.gate) await this.gate;
    if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    await this.inner.write(run);
  }

  close(): Promise<void> {
    this.resume();
    return this.inner.close?.() ?? Promise.resolve();
  }
}
