// Waiting inside a channel: every wait ends early when the host aborts, so close() is never held up.

/** Resolves true after `ms`, or false as soon as `signal` aborts. */
export function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  if (ms <= 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Spaces out attempts after failures: `minMs`, doubling up to `maxMs`, back to `minMs` on reset(). */
export class RetryBackoff {
  private delayMs: number;
  private notBefore = 0;

  constructor(
    private readonly minMs: number,
    private readonly maxMs: number,
  ) {
    this.delayMs = minMs;
  }

  /** Waits until the next attempt is due; false when `signal` aborted first. */
  ready(signal: AbortSignal): Promise<boolean> {
    return pause(this.notBefore - performance.now(), signal);
  }

  /** True while an attempt would come too soon after the last failure. */
  get waiting(): boolean {
    return performance.now() < this.notBefore;
  }

  failed(): void {
    this.notBefore = performance.now() + this.delayMs;
    this.delayMs = Math.min(this.delayMs * 2, this.maxMs);
  }

  reset(): void {
    this.delayMs = this.minMs;
    this.notBefore = 0;
  }
}
