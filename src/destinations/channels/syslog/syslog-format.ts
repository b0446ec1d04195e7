// Syslog message text: Falco's priority as a severity, and the RFC 5424 or RFC 3164 header before
// the alert's line. Transport framing (octet counting, datagram limits) is the channel's business.

import { hostname as osHostname } from 'node:os';
import type { response as FalcoAlert } from '../../../gen/falco/outputs/outputs.js';

export type SyslogFormat = 'rfc5424' | 'rfc3164';

/**
 * Facility names as glibc's <syslog.h> spells them (without LOG_), with their codes, plus RFC
 * 5424's ntp (12), security/log audit (13), console/log alert (14) and clock (15).
 */
const FACILITY_CODES: ReadonlyMap<string, number> = new Map([
  ['kern', 0], ['user', 1], ['mail', 2], ['daemon', 3], ['auth', 4], ['syslog', 5],
  ['lpr', 6], ['news', 7], ['uucp', 8], ['cron', 9], ['authpriv', 10], ['ftp', 11],
  ['ntp', 12], ['security', 13], ['console', 14], ['clock', 15],
  ['local0', 16], ['local1', 17], ['local2', 18], ['local3', 19],
  ['local4', 20], ['local5', 21], ['local6', 22], ['local7', 23],
]);

/** Every facility name the syslog output accepts; the config checks against the same list. */
export const SYSLOG_FACILITIES: readonly string[] = [...FACILITY_CODES.keys()];

/** The facility code for a name (any case); throws naming the accepted names. */
export function facilityCode(name: string): number {
  const code = FACILITY_CODES.get(name.toLowerCase());
  if (code === undefined) {
    throw new Error(`syslog facility "${name}" is unknown; use one of ${[...FACILITY_CODES.keys()].join(', ')}`);
  }
  return code;
}

/** Severity used for a priority number Falco never sends (outside 0..7). */
export const UNKNOWN_PRIORITY_SEVERITY = 5; // Notice

/**
 * Falco's priorities are syslog's severities, in the same order (Emergency 0 ... Debug 7), and Falco
 * passes them to syslog(3) unchanged; so do we.
 */
export function severityOf(priority: number): number {
  return Number.isInteger(priority) && priority >= 0 && priority <= 7 ? priority : UNKNOWN_PRIORITY_SEVERITY;
}

/** RFC 5424 header fields allow printable US-ASCII only (33..126); anything else becomes "_". */
function printableAscii(value: string, maxLength: number): string {
  const cleaned = value.replace(/[^\x21-\x7e]/g, '_').slice(0, maxLength);
  return cleaned === '' ? '-' : cleaned;
}

/** Checks an APP-NAME / TAG from the configuration: it must survive both formats' parsers intact. */
export function checkAppName(appName: string): string {
  if (!/^[\x21-\x7e]{1,48}$/.test(appName) || /[:[\]]/.test(appName)) {
    throw new Error(`syslog appName "${appName}" must be 1 to 48 printable ASCII characters without spaces, ":", "[" or "]"`);
  }
  return appName;
}

// Seconds of the largest RFC 3339 date, 9999-12-31T23:59:59Z: beyond it Date cannot print.
const MAX_SECONDS = 253402300799n;

/** The alert's time as a Date plus its microseconds, or now when it has none that prints. */
function alertTime(alert: FalcoAlert): { date: Date; micros: number } {
  const time = alert.time;
  if (time && time.seconds >= 0n && time.seconds <= MAX_SECONDS && time.nanos >= 0 && time.nanos < 1e9) {
    return { date: new Date(Number(time.seconds) * 1000), micros: Math.floor(time.nanos / 1000) };
  }
  const now = Date.now();
  return { date: new Date(now - (now % 1000)), micros: (now % 1000) * 1000 };
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n: number): string => String(n).padStart(2, '0');

export interface SyslogHeaderOptions {
  format: SyslogFormat;
  facility: number;
  appName: string;
  procId: number;
  /**
   * RFC 3164 only: glibc's syslog(3) leaves HOSTNAME out on the local socket, and journald would
   * take a hostname there for the TAG; network receivers expect it.
   */
  hostnameIn3164: boolean;
}

/** The header that goes before the alert's line (the MSG), ending with the separating space. */
export function syslogHeader(alert: FalcoAlert, options: SyslogHeaderOptions): string {
  const pri = `<${options.facility * 8 + severityOf(alert.priority)}>`;
  const host = printableAscii(alert.hostname || osHostname(), 255);
  const { date, micros } = alertTime(alert);
  if (options.format === 'rfc5424') {
    // VERSION 1, TIMESTAMP in UTC with microseconds (RFC 5424 allows six fractional digits),
    // no MSGID and no STRUCTURED-DATA. No BOM before MSG: rsyslog, syslog-ng and logger(1) do without.
    const timestamp = `${date.toISOString().slice(0, 19)}.${String(micros).padStart(6, '0')}Z`;
    return `${pri}1 ${timestamp} ${host} ${options.appName} ${options.procId} - - `;
  }
  // RFC 3164 has local time without a year or zone, the day padded with a space.
  const timestamp =
    `${MONTHS[date.getMonth()]} ${String(date.getDate()).padStart(2, ' ')} ` +
    `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}`;
  const hostPart = options.hostnameIn3164 ? `${host} ` : '';
  return `${pri}${timestamp} ${hostPart}${options.appName}[${options.procId}]: `;
}

/**
 * Cuts `message` to at most `maxBytes`, at a UTF-8 character boundary, ending with `marker`, so a
 * receiver sees that the alert was cut rather than a silently shortened one.
 */
export function truncateUtf8(message: Buffer, maxBytes: number, marker: string): Buffer {
  if (message.length <= maxBytes) return message;
  const tail = Buffer.from(marker);
  let end = Math.max(0, maxBytes - tail.length);
  while (end > 0 && (message[end]! & 0xc0) === 0x80) end--; // never split a multi-byte character
  return Buffer.concat([message.subarray(0, end), tail]);
}
