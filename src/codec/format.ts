// An alert as the line Falco writes: the JSON alert (json_output: true, with Falco's
// json_include_* switches) or Falco's text line (json_output: false).

import type { response } from '../gen/falco/outputs/outputs.js';
import { textLineWithoutOutput } from './falco-json.js';
import { FalcoJsonWriter } from './falco-json-bytes.js';

/** How an alert becomes a line: Falco's `json_output` and `json_include_*` switches. */
export interface FormatOptions {
  /** Falco's `json_output`: the JSON alert when true, Falco's text line (the `output` string) when false. Default true. */
  json?: boolean;
  /** `json_include_output_property`. Default true. */
  includeOutput?: boolean;
  /** `json_include_tags_property`. Default true. */
  includeTags?: boolean;
  /** `json_include_output_fields_property`. Default true. */
  includeOutputFields?: boolean;
}

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
  return textLineWithoutOutput(alert.time?.seconds ?? 0n, alert.time?.nanos ?? 0, alert.priority, alert.rule);
}
