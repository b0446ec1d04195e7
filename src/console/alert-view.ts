// One alert as the console page gets it, and the two fields the console counts for every alert.
// output_fields travel as the strings they are on the wire (a 64-bit evt.time stays exact in a
// browser, which would round it as a JSON number), as [key, value] pairs in the alert's order.

import { decodeAlert } from '../receiver/sinks.js';
import { formatTime } from '../codec/falco-json.js';
import { MalformedMessageError, Reader } from '../codec/publish-request.js';

export interface ConsoleAlert {
  /** The alert's number: the n-th alert this receiver accepted. */
  n: number;
  /** RFC 3339 UTC with nanoseconds. */
  time: string;
  /** Falco's priority number: 0 Emergency ... 7 Debug. */
  priority: number;
  rule: string;
  hostname: string;
  source: string;
  tags: string[];
  output: string;
  fields: Array<[string, string]>;
}

export function toConsoleAlert(bytes: Buffer, n: number): ConsoleAlert {
  try {
    const a = decodeAlert(bytes);
    const time = a.time ? formatTime(a.time.seconds, a.time.nanos) : formatTime(0n, 0);
    return { n, time, priority: a.priority, rule: a.rule, hostname: a.hostname, source: a.source, tags: a.tags, output: a.output, fields: Object.entries(a.outputFields) };
  } catch (err) {
    // The receiver checked the bytes' structure; whatever still fails is shown, not hidden.
    const why = `(alert #${n} could not be decoded: ${(err as Error).message})`;
    return { n, time: formatTime(0n, 0), priority: 7, rule: why, hostname: '', source: '', tags: [], output: why, fields: [] };
  }
}

/** Priority and rule of an alert, read without decoding the rest. */
export interface Counted {
  priority: number;
  rule: string;
}

/**
 * Reads fields 2 (priority) and 4 (rule) and stops: encoders write the fields in number order,
 * so the rule comes within the first few dozen bytes.
 */
export function readPriorityAndRule(bytes: Buffer, into: Counted): void {
  into.priority = 0; // proto3 default: Emergency
  into.rule = '';
  const r = new Reader(bytes, bytes.length);
  try {
    while (r.pos < bytes.length) {
      const tagAt = r.pos;
      const tag = r.varint('tag');
      if (tag === 0x10) into.priority = r.varint('priority');
      else if (tag === 0x22) {
        const [s, e] = r.bytes('rule');
        into.rule = bytes.toString('utf8', s, e);
        return;
      } else r.skip(tag & 7, tagAt);
    }
  } catch (err) {
    if (!(err instanceof MalformedMessageError)) throw err;
    into.rule = '(malformed alert)';
  }
}
