// Falco's JSON alert line, as Falco writes it with json_output: true.

import type { response } from '../gen/falco/outputs/outputs.js';
import { NO_VALUE, PRIORITY_NAMES } from './alert.js';

const PRIORITY_LABELS: readonly string[] = PRIORITY_NAMES;

/** RFC 3339 UTC with nine fractional digits, as Falco prints `time`. */
export function formatTime(seconds: bigint, nanos: number): string {
  const iso = new Date(Number(seconds) * 1000).toISOString(); // 2025-11-27T05:00:00.000Z
  return `${iso.slice(0, 19)}.${String(nanos).padStart(9, '0')}Z`;
}

/** One alert as a Falco JSON line (no newline). Field order follows Falco's. */
export function toFalcoJsonLine(alert: response): string {
  const time = alert.time ? formatTime(alert.time.seconds, alert.time.nanos) : formatTime(0n, 0);
  let fields = '';
  for (const key in alert.outputFields) {
    const value = alert.outputFields[key]!;
    fields += `${fields === '' ? '' : ','}${JSON.stringify(key)}:${value === NO_VALUE ? 'null' : JSON.stringify(value)}`;
  }
  return (
    `{"hostname":${JSON.stringify(alert.hostname)},"output":${JSON.stringify(alert.output)},` +
    `"priority":"${PRIORITY_LABELS[alert.priority] ?? 'Debug'}","rule":${JSON.stringify(alert.rule)},` +
    `"source":${JSON.stringify(alert.source)},"tags":${JSON.stringify(alert.tags)},"time":"${time}",` +
    `"output_fields":{${fields}}}`
  );
}
