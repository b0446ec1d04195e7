// Retry pacing, the one backoff of the project: the gRPC sender's reconnects and every channel's
// retries. Every wait ends early when the caller aborts, so close() is never held up.

export interface BackoffPolicy {
  /** Delay before the first retry; doubles with each retry after it. */
  baseMs: number;
  /** Longest delay between two attempts. */
  capMs: number;
}

/**
 * Delay before retry number `retry` (1 for the first): exponential, with "equal jitter" (half fixed,
 * half random) so that many outputs retrying one recovering peer do not hit it in lockstep.
 */
export function backoffDelay(retry: number, policy: BackoffPolicy): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.max(0, retry - 1));
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

/** Waits `ms`, cut short when `signal` aborts. Resolves true when the full wait passed, false when aborted. */
export function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
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
    return sleep(this.notBefore - performance.now(), signal);
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
