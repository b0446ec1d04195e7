// The web console's access tokens and Host check. Which addresses need which protection is
// decided with receive's settings (config/console-address.ts), before anything listens.

import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isLoopbackHost } from '../config/console-address.js';

/** The least a token may be: shorter ones can be guessed by a patient client. */
export const MIN_TOKEN_LENGTH = 16;

/** The token in `file` (surrounding whitespace trimmed); throws an Error naming the file. */
export function readTokenFile(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read the console token from ${file}: ${(err as Error).message}`);
  }
  const token = text.trim();
  if (token.length < MIN_TOKEN_LENGTH) {
    throw new Error(`the console token in ${file} has ${token.length} characters; it needs at least ${MIN_TOKEN_LENGTH} (e.g. openssl rand -hex 32 > ${file})`);
  }
  if (/[\s;,"\\]/.test(token)) throw new Error(`the console token in ${file} must not contain whitespace, ';', ',', '"' or '\\' (it travels in a cookie)`);
  return token;
}

/** Compares a presented token with the expected one in constant time. */
export function tokenMatches(expected: string, presented: string | undefined): boolean {
  if (presented === undefined) return false;
  const a = createHash('sha256').update(expected).digest();
  const b = createHash('sha256').update(presented).digest();
  return timingSafeEqual(a, b);
}

/**
 * Whether a Host header names this machine. An open loopback console checks it, so that a web
 * page whose name was re-pointed at 127.0.0.1 (DNS rebinding) cannot read it.
 */
export function isLoopbackHostHeader(header: string | undefined): boolean {
  if (!header) return false;
  const m = /^(?:\[([^\]]+)\]|([^:]+))(?::\d+)?$/.exec(header);
  return m !== null && isLoopbackHost((m[1] ?? m[2])!);
}
