// Falco's JSON alert line, as Falco writes it with json_output: true.

import type { response } from '../gen/falco/outputs/outputs.js';
import { NO_VALUE, PRIORITY_NAMES, type AlertInput } from './alert.js';

const PRIORITY_LABELS: readonly string[] = PRIORITY_NAMES;

let lastSeconds: bigint | null = null;
let lastPrefix = '';

/** RFC 3339 UTC with nine fractional digits, as Falco prints `time`. */
export function formatTime(seconds: bigint, nanos: number): string {
  // Alerts come in runs within one second: the date part is reused (Date and toISOString cost ~0.7 µs).
  if (seconds !== lastSeconds) {
    lastPrefix = new Date(Number(seconds) * 1000).toISOString().slice(0, 19); // 2025-11-27T05:00:00
    lastSeconds = seconds;
  }
  return `${lastPrefix}.${String(nanos).padStart(9, '0')}Z`;
}

/**
 * Falco's text line for an alert that has no `output`: the prefix Falco begins `output` with
 * (time of day with nanoseconds, priority), then the rule name.
 */
export function textLineWithoutOutput(seconds: bigint, nanos: number, priority: number, rule: string): string {
  return `${formatTime(seconds, nanos).slice(11, -1)}: ${PRIORITY_LABELS[priority] ?? 'Debug'} ${rule}`;
}

/** Characters JSON must escape; strings without any are quoted as they are, far cheaper than JSON.stringify. */
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** A string as a JSON string literal. */
function jsonString(text: string): string {
  return NEEDS_ESCAPE.test(text) ? JSON.stringify(text) : `"${text}"`;
}

/** Falco's json_include_*_property switches: which optional properties a JSON line carries. */
export interface JsonIncludes {
  output: boolean;
  tags: boolean;
  outputFields: boolean;
}

const ALL: JsonIncludes = { output: true, tags: true, outputFields: true };

/** A JSON number or boolean, exactly: only these may be written unquoted, whatever the sender marked. */
const JSON_LITERAL = /^(?:-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false)$/;

/**
 * One alert as a Falco JSON line (no newline). Field order follows Falco's. `literals` are the
 * output_fields that were numbers or booleans (jsonLiteralKeys()): written unquoted, as Falco does.
 */
export function toFalcoJsonLine(alert: response, include: JsonIncludes = ALL, literals: ReadonlySet<string> | null = null): string {
  const time = alert.time ? formatTime(alert.time.seconds, alert.time.nanos) : formatTime(0n, 0);
  let fields = '';
  if (include.outputFields) for (const key in alert.outputFields) {
    const value = alert.outputFields[key]!;
    const text = value === NO_VALUE ? 'null' : literals?.has(key) && JSON_LITERAL.test(value) ? value : jsonString(value);
    fields += `${fields === '' ? '' : ','}${jsonString(key)}:${text}`;
  }
  let tags = '';
  if (include.tags) for (const tag of alert.tags) tags += `${tags === '' ? '' : ','}${jsonString(tag)}`;
  return (
    `{"hostname":${jsonString(alert.hostname)},${include.output ? `"output":${jsonString(alert.output)},` : ''}` +
    `"priority":"${PRIORITY_LABELS[alert.priority] ?? 'Debug'}","rule":${jsonString(alert.rule)},` +
    `"source":${jsonString(alert.source)},${include.tags ? `"tags":[${tags}],` : ''}"time":"${time}"` +
    (include.outputFields ? `,"output_fields":{${fields}}}` : '}')
  );
}

/** Thrown for a line that is not a Falco JSON alert; the message says why. */
export class MalformedAlertLineError extends Error {}

/** Marks a quoted long integer; a string from the line cannot start with it unescaped. */
const LONG_INTEGER = '\u0000';

/**
 * Quotes integer literals too long for a double (Falco's evt.time is nanoseconds, beyond
 * 2^53) behind a marker, so JSON.parse keeps every digit; toBigInts() turns them into bigints.
 */
function quoteLongIntegers(line: string): string {
  let out = '';
  let from = 0;
  let inString = false;
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) {
      inString = true;
      continue;
    }
    const startsNumber = c === 0x2d || (c >= 0x30 && c <= 0x39);
    if (!startsNumber) continue;
    let j = i + 1;
    while (j < line.length && line.charCodeAt(j) >= 0x30 && line.charCodeAt(j) <= 0x39) j++;
    const next = line.charCodeAt(j);
    const isInteger = next !== 0x2e && next !== 0x65 && next !== 0x45; // no fraction, no exponent
    if (isInteger && j - i > 15) {
      out += `${line.slice(from, i)}"\\u0000${line.slice(i, j)}"`;
      from = j;
    }
    i = j - 1;
  }
  return from === 0 ? line : out + line.slice(from);
}

/**
 * Long integers come back as bigints: still numbers, so a JSON output writes them unquoted.
 * A number beyond a double (1e400) parses to Infinity and could only travel as null: refused.
 */
function toBigInts(fields: Record<string, unknown>): void {
  for (const key in fields) {
    const value = fields[key];
    if (typeof value === 'string' && value.startsWith(LONG_INTEGER)) fields[key] = BigInt(value.slice(1));
    else if (typeof value === 'number' && !Number.isFinite(value)) {
      throw new MalformedAlertLineError(`output_fields[${JSON.stringify(key)}]: number out of range (beyond a 64-bit double)`);
    }
  }
}

/** One of Falco's JSON output lines as an alert for emit(); throws MalformedAlertLineError. */
export function parseFalcoJsonLine(line: string): AlertInput {
  let value: unknown;
  try {
    value = JSON.parse(quoteLongIntegers(line));
  } catch (err) {
    throw new MalformedAlertLineError(`not JSON: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new MalformedAlertLineError('not a JSON object');
  }
  const alert = value as Record<string, unknown>;
  const fields = alert['output_fields'];
  if (typeof fields === 'object' && fields !== null) toBigInts(fields as Record<string, unknown>);
  for (const key of ['rule', 'priority', 'time'] as const) {
    const value = alert[key];
    if (typeof value !== 'string') {
      const found = value === undefined ? 'it is missing' : `got ${value === null ? 'null' : typeof value}`;
      throw new MalformedAlertLineError(`"${key}" must be a string; ${found}`);
    }
  }
  return alert as unknown as AlertInput;
}
