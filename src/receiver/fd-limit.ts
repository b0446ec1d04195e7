// The process's open-file limit. Every connection costs a descriptor, so the receiver sizes its
// connection cap below the soft limit. Node itself raises the soft limit to the hard one when it
// starts (as far as the system allows), so the cap follows the hard limit of the process.

import { readFileSync } from 'node:fs';

export interface FdLimits {
  soft: number;
  hard: number;
}

/** The open-file limits from /proc/self/limits (Linux), or null where they cannot be read. */
export function openFileLimits(): FdLimits | null {
  try {
    const m = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (!m) return null;
    const n = (s: string): number => (s === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(s));
    return { soft: n(m[1]!), hard: n(m[2]!) };
  } catch {
    return null;
  }
}

/** A connection cap that leaves descriptors for files, sinks and the rest: ~80% of the soft limit, 16..10,000. */
export function defaultMaxConnections(limits: FdLimits | null = openFileLimits()): number {
  if (!limits) return 1000;
  return Math.max(16, Math.min(10_000, Math.floor(limits.soft * 0.8) - 32));
}
