// An alert as the line Falco writes: the JSON alert (json_output: true, with Falco's
// json_include_* switches) or Falco's text line (json_output: false).

import type { response } from '../gen/falco/outputs/outputs.js';
import { PRIORITY_NAMES } from '../codec/alert.js';
import { FalcoJsonWriter } from '../codec/falco-json-bytes.js';
import type { FormatOptions } from './types.js';

/** An encoded alert (falco.outputs.response bytes) to its line. */
export type Formatter = (bytes: Uint8Array) => string;

/** Formats straight from the bytes (FalcoJsonWriter): the same lines as toFalcoJsonLine/toFalcoTextLine, at a fraction of the cost. */
export function formatterFor(options: FormatOptions = {}): Formatter {
  const writer = new FalcoJsonWriter({
    output: options.includeOutput ?? true,
    tags: options.includeTags ?? true,
    outputFields: options.includeOutputFields ?? true,
  });
  return options.json === false ? (bytes) => writer.textLine(bytes) : (bytes) => writer.line(bytes);
}

/**
 * Falco's text line is the alert's `output`, which Falco already begins with the time and
 * priority ("05:00:00.000000970: Notice ..."). An alert emitted without one gets that same
 * prefix in front of its rule name.
 */
export function toFalcoTextLine(alert: response): string {
  if (alert.output !== '') return alert.output;
  const seconds = alert.time?.seconds ?? 0n;
  const clock = new Date(Number(seconds) * 1000).toISOString().slice(11, 19);
  const nanos = String(alert.time?.nanos ?? 0).padStart(9, '0');
  return `${clock}.${nanos}: ${(PRIORITY_NAMES as readonly string[])[alert.priority] ?? 'Debug'} ${alert.rule}`;
}
