// The subscription API's shared AlertLog: a byte ring of copies, bounded by count and bytes. Every
// entry it still claims to hold must read back exactly as appended, whatever the sizes and wraps.

import { describe, expect, it } from 'vitest';
import { AlertLog } from '../dist/src/receiver/alert-log.js';

/** Entry i's bytes: its length and a pattern only it has. */
function entry(i: number, length: number): Buffer {
  const b = Buffer.alloc(length);
  for (let k = 0; k < length; k++) b[k] = (i * 31 + k) & 0xff;
  return b;
}

describe('AlertLog', () => {
  it('holds the newest entries that fit, each intact, across thousands of wraps', () => {
    const log = new AlertLog(50, 4096);
    const lengths: number[] = [];
    let seed = 7;
    const random = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 20_000; i++) {
      const length = 1 + Math.floor(random() * (random() < 0.05 ? 3000 : 300));
      lengths.push(length);
      log.append(entry(i, length));
      expect(log.next).toBe(i + 1);
      expect(log.next - log.first).toBeLessThanOrEqual(50);
      let bytes = 0;
      for (let k = log.first; k < log.next; k++) bytes += log.lengthOf(k);
      expect(bytes).toBeLessThanOrEqual(4096);
      if (i % 97 === 0) for (let k = log.first; k < log.next; k++) expect(log.copyOf(k).equals(entry(k, lengths[k]!))).toBe(true);
    }
    // The newest one is always held.
    expect(log.first).toBeLessThan(log.next);
  });

  it('an entry larger than the whole ring is numbered but not held, and everything older goes', () => {
    const log = new AlertLog(10, 100);
    log.append(entry(0, 40));
    log.append(entry(1, 40));
    log.append(entry(2, 101));
    expect([log.first, log.next]).toEqual([3, 3]);
    log.append(entry(3, 10));
    expect([log.first, log.next]).toEqual([3, 4]);
    expect(log.copyOf(3).equals(entry(3, 10))).toBe(true);
  });
});
