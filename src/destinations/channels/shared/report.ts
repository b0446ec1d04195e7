import type { DeliveryReport } from '../channel.js';

/** A batch of `total` items of which the first `delivered` got through; the rest failed for `error`. */
export function batchReport(total: number, delivered: number, error: string | undefined): DeliveryReport {
  const failed = total - delivered;
  return failed > 0 ? { delivered, failed, error: error ?? 'not delivered' } : { delivered, failed: 0 };
}
