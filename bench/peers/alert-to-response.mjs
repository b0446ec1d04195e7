// AlertInput → ts-proto `response` (falco.outputs.response), written the way a user of the
// generated code would, without this project's hand-rolled encoder. Also the JSON-safe form
// of an alert for pino (JSON has no bigint).

import { hostname as osHostname } from 'node:os';

const HOSTNAME = osHostname();
const NA = '<NA>';
const PRIORITIES = ['emergency', 'alert', 'critical', 'error', 'warning', 'notice', 'informational', 'debug'];
const SOURCES = { syscall: 0, k8s_audit: 1, internal: 2 }; // anything else is a plugin: 3
const RFC3339 = /^(.*?T\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/i;

/** @param {string | number} p */
function priorityOf(p) {
  if (typeof p === 'number') return p;
  const name = p.toLowerCase();
  const value = name === 'info' ? 6 : PRIORITIES.indexOf(name);
  if (value < 0) throw new TypeError(`invalid priority "${p}"`);
  return value;
}

/** @returns {{ seconds: bigint, nanos: number }} google.protobuf.Timestamp as ts-proto wants it */
function timestampOf(time) {
  if (time === undefined) time = new Date();
  if (typeof time === 'bigint') {
    let seconds = time / 1_000_000_000n;
    let nanos = time % 1_000_000_000n;
    if (nanos < 0n) (nanos += 1_000_000_000n), (seconds -= 1n); // floor, for times before 1970
    return { seconds, nanos: Number(nanos) };
  }
  if (time instanceof Date) {
    const ms = time.getTime();
    const seconds = Math.floor(ms / 1000);
    return { seconds: BigInt(seconds), nanos: (ms - seconds * 1000) * 1_000_000 };
  }
  if (typeof time === 'string') {
    // Date.parse drops digits past milliseconds: parse the whole seconds, keep the fraction.
    const m = RFC3339.exec(time);
    const ms = m ? Date.parse(m[1] + m[3]) : NaN;
    if (Number.isNaN(ms)) throw new TypeError(`invalid time "${time}"`);
    return { seconds: BigInt(ms / 1000), nanos: m[2] ? Number(m[2].padEnd(9, '0')) : 0 };
  }
  return { seconds: BigInt(time.seconds), nanos: time.nanos };
}

/** Falco stringified non-string fields as JSON writes them; null travels as "<NA>". */
function fieldValue(v) {
  if (typeof v === 'string') return v;
  if (v === null || (typeof v === 'number' && !Number.isFinite(v))) return NA;
  return String(v);
}

/**
 * @param {import('../../dist/src/codec/alert.js').AlertInput} alert
 * @returns {import('../../dist/src/gen/falco/outputs/outputs.js').response}
 */
export function alertToResponse(alert) {
  const source = alert.source ?? 'syscall';
  const outputFields = {};
  const fields = alert.output_fields;
  if (fields) for (const key in fields) outputFields[key] = fieldValue(fields[key]);
  return {
    time: timestampOf(alert.time),
    priority: priorityOf(alert.priority),
    sourceDeprecated: SOURCES[source] ?? 3,
    rule: alert.rule,
    output: alert.output ?? '',
    outputFields,
    hostname: alert.hostname ?? HOSTNAME,
    tags: alert.tags ?? [],
    source,
  };
}

/**
 * The alert with bigints as decimal strings, so it can be logged as JSON; a bigint `time`
 * becomes a string of nanoseconds, which `alertFromJson` turns back into a bigint.
 * @param {import('../../dist/src/codec/alert.js').AlertInput} alert
 */
export function jsonSafeAlert(alert) {
  let { time, output_fields: fields } = alert;
  if (typeof time === 'bigint') time = String(time);
  else if (time !== undefined && typeof time.seconds === 'bigint') time = { seconds: String(time.seconds), nanos: time.nanos };
  let safeFields = fields;
  if (fields) {
    safeFields = {};
    for (const key in fields) {
      const v = fields[key];
      safeFields[key] = typeof v === 'bigint' ? String(v) : v;
    }
  }
  return { ...alert, time, output_fields: safeFields };
}

/**
 * The inverse of jsonSafeAlert after a JSON round trip: a digit string `time` is nanoseconds,
 * a number is epoch milliseconds (pino's own `time`, left when the alert had none).
 */
export function alertFromJson(obj) {
  const { time } = obj;
  if (typeof time === 'string' && /^-?\d+$/.test(time)) return { ...obj, time: BigInt(time) };
  if (typeof time === 'number') return { ...obj, time: new Date(time) };
  return obj;
}
