// An alert as the line Falco writes: the JSON alert (json_output: true, with Falco's
// json_include_* switches) or Falco's text line (json_output: false).

import type { response } from '../gen/falco/outputs/outputs.js';
import { PRIORITY_NAMES } from '../codec/alert.js';
import { toFalcoJsonLine } from '../codec/falco-json.js';
import type { FormatOptions } from './types.js';

/** `literals`: the output_fields that were numbers or booleans (jsonLiteralKeys()). */
export type Formatter = (alert: response, literals: ReadonlySet<string> | null) => string;

export function formatterFor(options: FormatOptions = {}): Formatter {
  if (options.json === false) return toFalcoTextLine;
  const include = {
    output: options.includeOutput ?? true,
    tags: options.includeTags ?? true,
    outputFields: options.includeOutputFields ?? true,
  };
  return (alert, literals) => toFalcoJsonLine(alert, include, literals);
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
