// Value checks shared by the config file readers and the command-line flag parsers, so a value is
// judged the same wherever it comes from. Each returns the value, or throws a TypeError that says
// what was expected (the caller adds where the value came from).

import { isIP } from 'node:net';
import { PRIORITY_NAMES, priorityFromName } from '../codec/alert.js';

/** A whole number >= min, from a number or a decimal string (flags, env, quoted YAML). */
export function checkInteger(value: unknown, min: number): number {
  const n = typeof value === 'string' && /^\s*[+-]?\d+\s*$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < min) {
    throw new TypeError(`expected ${min === 1 ? 'a positive integer' : `an integer >= ${min}`}, got ${describe(value)}`);
  }
  return n;
}

export function checkPositiveInteger(value: unknown): number {
  return checkInteger(value, 1);
}

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1e3, kb: 1e3, m: 1e6, mb: 1e6, g: 1e9, gb: 1e9, kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30 };

/**
 * A size in bytes >= 1: a whole number, or a number with a unit, binary (KiB, MiB, GiB) or
 * decimal (k/kB, M/MB, G/GB), any case, a space allowed between: "8MiB", "512 KiB", "1.5M".
 */
export function checkSize(value: unknown): number {
  if (typeof value === 'number') {
    if (Number.isSafeInteger(value) && value >= 1) return value;
  } else if (typeof value === 'string') {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(value);
    const unit = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
    const n = m && unit !== undefined ? Number(m[1]) * unit : NaN;
    if (Number.isSafeInteger(n) && n >= 1) return n;
  }
  throw new TypeError(`expected a size in bytes, a whole number or with a unit (e.g. 65536, 512KiB, 8MiB, 1GiB; k, M, G are powers of 1000), got ${describe(value)}`);
}

/** Falco's priority number (0 = Emergency ... 7 = Debug) for a name, any case, "info" accepted. */
export function checkPriority(value: unknown): number {
  const n = typeof value === 'string' ? priorityFromName(value.trim()) : undefined;
  if (n === undefined) {
    throw new TypeError(`expected a Falco priority (${PRIORITY_NAMES.map((p) => p.toLowerCase()).join(', ')}), got ${describe(value)}`);
  }
  return n;
}

export function checkString(value: unknown): string {
  if (typeof value !== 'string') throw new TypeError(`expected a string, got ${describe(value)}`);
  return value;
}

/** `host:port`: a DNS name, an IPv4 address or a bracketed IPv6 address, and a port 0-65535. */
export function checkHostPort(value: unknown): string {
  const text = checkString(value);
  if (!isHostPort(text)) throw new TypeError(`expected host:port (e.g. localhost:50051 or [::1]:50051), got ${describe(value)}`);
  return text;
}

/** A gRPC listen address or target: `unix:///absolute/path`, `unix:relative/path`, or host:port. */
export function checkGrpcAddress(value: unknown): string {
  const text = checkString(value);
  if (isUnixAddress(text) || isHostPort(text)) return text;
  throw new TypeError(`expected host:port or unix:///path, got ${describe(value)}`);
}

/** `unix:///absolute/path` or `unix:relative/path`, as grpc-js takes them. */
export function isUnixAddress(value: string): boolean {
  const m = /^unix:(\/\/)?(.*)$/.exec(value);
  if (!m) return false;
  const path = m[2]!;
  // unix://host/path is not a thing: with the double slash the path must be absolute.
  return path.length > 0 && (m[1] === undefined || path.startsWith('/')) && !path.includes('\0');
}

export function isHostPort(value: string): boolean {
  const m = /^(\[[^\]]+\]|[^:\s\[\]]+):(\d{1,5})$/.exec(value);
  if (!m) return false;
  const host = m[1]!;
  const port = Number(m[2]);
  if (port > 65535) return false;
  if (host.startsWith('[')) return isIP(host.slice(1, -1)) === 6;
  if (/^[\d.]+$/.test(host)) return isIP(host) === 4;
  return /^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62}))*\.?$/.test(host);
}

/** One of a fixed set of words. */
export function checkOneOf<T extends string>(value: unknown, allowed: readonly T[]): T {
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
  throw new TypeError(`expected one of ${allowed.join(', ')}, got ${describe(value)}`);
}

/** A value as an error message shows it: strings quoted, collections named. */
export function describe(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a map';
  return String(value);
}
