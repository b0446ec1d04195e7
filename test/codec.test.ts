// The alert codec: AlertEncoder's protobuf bytes, checked by decoding them with the generated
// ts-proto code and against ts-proto's own encoder, and Falco's JSON line written from a decoded alert.

import { readFileSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { AlertEncoder, AlertTooLargeError, PRIORITY_NAMES } from '../dist/src/codec/alert.js';
import { formatTime, toFalcoJsonLine } from '../dist/src/codec/falco-json.js';
import { response } from '../dist/src/gen/falco/outputs/outputs.js';

// A copy of ../shared/data/falco-alerts.jsonl, kept in the repo so a clone tests on its own.
const DATA = fileURLToPath(new URL('./fixtures/falco-alerts.jsonl', import.meta.url));

/** Encodes with a fresh 1 MiB encoder (or the one given) and decodes with ts-proto. */
function roundTrip(alert: unknown, encoder = new AlertEncoder(1 << 20)): response {
  const length = encoder.encode(alert as never);
  return response.decode(encoder.scratch.subarray(0, length));
}

/** What ts-proto's own encoder makes of `message`, decoded again. */
function viaReference(message: response): response {
  return response.decode(response.encode(message).finish());
}

// A minimal valid alert and the message it decodes to; tests override single fields.
const BASE = {
  rule: 'Terminal shell in container',
  priority: 'Notice',
  time: '2025-11-27T05:00:00.000000970Z',
  hostname: 'worker-node-1',
} as const;

const BASE_DECODED: response = {
  time: { seconds: 1764219600n, nanos: 970 },
  priority: 5,
  sourceDeprecated: 0,
  rule: 'Terminal shell in container',
  output: '',
  outputFields: {},
  hostname: 'worker-node-1',
  tags: [],
  source: 'syscall',
};

/** Asserts the alert decodes to BASE_DECODED with `changes`, and that ts-proto's encoder agrees. */
function expectDecodes(alert: object, changes: Partial<response>): void {
  const expected = { ...BASE_DECODED, ...changes };
  const decoded = roundTrip({ ...BASE, ...alert });
  expect(decoded).toEqual(expected);
  expect(viaReference(expected)).toEqual(decoded);
}

describe('AlertEncoder: fields decode back', () => {
  test('a full alert decodes field for field', () => {
    const decoded = roundTrip({
      rule: 'Write below etc',
      priority: 'Error',
      time: '2025-11-27T05:00:01.123456789Z',
      output: 'File below /etc opened for writing (user=root)',
      source: 'k8s_audit',
      hostname: 'edge-gw',
      tags: ['filesystem', 'mitre_persistence'],
      output_fields: { 'fd.name': '/etc/passwd', 'user.uid': 0, 'proc.tty': null },
    });
    const expected: response = {
      time: { seconds: 1764219601n, nanos: 123456789 },
      priority: 3,
      sourceDeprecated: 1,
      rule: 'Write below etc',
      output: 'File below /etc opened for writing (user=root)',
      outputFields: { 'fd.name': '/etc/passwd', 'user.uid': '0', 'proc.tty': '<NA>' },
      hostname: 'edge-gw',
      tags: ['filesystem', 'mitre_persistence'],
      source: 'k8s_audit',
    };
    expect(decoded).toEqual(expected);
    expect(viaReference(expected)).toEqual(decoded);
  });

  test.each([
    ['Emergency', 0],
    ['alert', 1],
    ['CRITICAL', 2],
    ['Error', 3],
    ['wArNiNg', 4],
    ['notice', 5],
    ['Informational', 6],
    ['info', 6],
    ['INFO', 6],
    ['Info', 6],
    ['debug', 7],
    [0, 0],
    [1, 1],
    [2, 2],
    [3, 3],
    [4, 4],
    [5, 5],
    [6, 6],
    [7, 7],
  ])('priority %j → %i', (priority, expected) => {
    expectDecodes({ priority }, { priority: expected });
  });

  test.each([
    ['syscall', 0],
    ['k8s_audit', 1],
    ['internal', 2],
    ['aws_cloudtrail', 3],
    ['okta', 3],
    ['Syscall', 3],
  ])('source %j → source_deprecated %i', (source, sourceDeprecated) => {
    expectDecodes({ source }, { source, sourceDeprecated });
  });

  test('source defaults to "syscall" (source_deprecated SYSCALL = 0)', () => {
    const decoded = roundTrip({ rule: 'r', priority: 'Alert', time: 0n, hostname: 'h' });
    expect(decoded.source).toBe('syscall');
    expect(decoded.sourceDeprecated).toBe(0);
  });

  test("hostname defaults to this machine's", () => {
    const decoded = roundTrip({ rule: 'r', priority: 'Alert' });
    expect(decoded.hostname).toBe(osHostname());
    expect(decoded.hostname).not.toBe('');
  });

  test('tags keep order and duplicates; absent and empty tags decode as []', () => {
    expectDecodes({ tags: ['b', 'a', 'b', ''] }, { tags: ['b', 'a', 'b', ''] });
    expectDecodes({ tags: [] }, { tags: [] });
    expectDecodes({}, { tags: [] });
  });

  test('output_fields values are stringified; null and NaN become "<NA>"', () => {
    expectDecodes(
      {
        output_fields: {
          str: 'text',
          empty: '',
          int: 53,
          negative: -7,
          float: 1.5,
          huge: 1e21,
          big: 18446744073709551615n,
          yes: true,
          no: false,
          nothing: null,
          nan: NaN,
          infinite: Infinity,
          na: '<NA>',
        },
      },
      {
        outputFields: {
          str: 'text',
          empty: '',
          int: '53',
          negative: '-7',
          float: '1.5',
          huge: '1e+21',
          big: '18446744073709551615',
          yes: 'true',
          no: 'false',
          nothing: '<NA>',
          nan: '<NA>',
          infinite: '<NA>',
          na: '<NA>',
        },
      },
    );
  });

  test('a 64-bit evt.time survives exactly as bigint and as string', () => {
    const decoded = roundTrip({
      ...BASE,
      output_fields: { 'evt.time': 1764219600000000970n, 'evt.time.s': '1764219600000000971' },
    });
    expect(decoded.outputFields).toEqual({
      'evt.time': '1764219600000000970',
      'evt.time.s': '1764219600000000971',
    });
    // The number form cannot carry it: 1764219600000000970 is not a double.
    expect(String(1764219600000000970)).not.toBe('1764219600000000970');
  });
});

describe('AlertEncoder: time', () => {
  test.each([
    ['Date (ms precision)', new Date(Date.UTC(2025, 10, 27, 5, 0, 0, 123)), 1764219600n, 123_000_000],
    ['Date before 1970', new Date(-1), -1n, 999_000_000],
    ['RFC 3339, 9 fractional digits', '2025-11-27T05:00:00.000000970Z', 1764219600n, 970],
    ['RFC 3339, 9 digits 999999999', '2025-11-27T05:00:00.999999999Z', 1764219600n, 999_999_999],
    ['RFC 3339, no fraction', '2025-11-27T05:00:00Z', 1764219600n, 0],
    ['RFC 3339, 1 fractional digit', '2025-11-27T05:00:00.5Z', 1764219600n, 500_000_000],
    ['RFC 3339, 3 fractional digits', '2025-11-27T05:00:00.123Z', 1764219600n, 123_000_000],
    ['RFC 3339, +02:00', '2025-11-27T07:00:00.000000970+02:00', 1764219600n, 970],
    ['RFC 3339, -05:30', '2025-11-26T23:30:00.000000001-05:30', 1764219600n, 1],
    ['RFC 3339, +00:00', '2025-11-27T05:00:00+00:00', 1764219600n, 0],
    ['RFC 3339, offset crossing a year', '2026-01-01T01:00:00+02:00', 1767222000n, 0],
    ['RFC 3339, lower-case t and z', '2025-11-27t05:00:00.000000970z', 1764219600n, 970],
    ['RFC 3339, 29 February of a leap year', '2024-02-29T00:00:00Z', 1709164800n, 0],
    ['RFC 3339, epoch', '1970-01-01T00:00:00Z', 0n, 0],
    ['RFC 3339, before the epoch', '1969-12-31T23:59:59.999999999Z', -1n, 999_999_999],
    ['RFC 3339, year 0050', '0050-01-01T00:00:00Z', -60589296000n, 0],
    ['RFC 3339, 29 February 2000', '2000-02-29T12:00:00Z', 951825600n, 0],
    ['RFC 3339, 31 December', '2025-12-31T23:59:59Z', 1767225599n, 0],
    ['bigint nanoseconds', 1764219600000000970n, 1764219600n, 970],
    ['bigint nanoseconds, whole second', 1764219600000000000n, 1764219600n, 0],
    ['bigint zero', 0n, 0n, 0],
    ['bigint negative', -1n, -1n, 999_999_999],
    ['{seconds: number, nanos}', { seconds: 1764219600, nanos: 970 }, 1764219600n, 970],
    ['{seconds: bigint, nanos}', { seconds: 1764219600n, nanos: 970 }, 1764219600n, 970],
    ['{seconds: negative number}', { seconds: -5, nanos: 1 }, -5n, 1],
    ['{seconds: 9999-12-31T23:59:59Z, the last Timestamp}', { seconds: 253402300799n, nanos: 999_999_999 }, 253402300799n, 999_999_999],
    ['{seconds: 0001-01-01T00:00:00Z, the first Timestamp}', { seconds: -62135596800, nanos: 0 }, -62135596800n, 0],
  ])('%s', (_name, time, seconds, nanos) => {
    expectDecodes({ time }, { time: { seconds, nanos } });
  });

  test('absent time is now, in whole milliseconds', () => {
    const before = Date.now();
    const { time } = roundTrip({ rule: 'r', priority: 0, hostname: 'h' });
    const after = Date.now();
    const ms = Number(time!.seconds) * 1000 + time!.nanos / 1e6;
    expect(ms).toBeGreaterThanOrEqual(before);
    expect(ms).toBeLessThanOrEqual(after);
    expect(time!.nanos % 1_000_000).toBe(0);
  });
});

describe('AlertEncoder: strings', () => {
  // Lengths around the encoder's fast paths (< 43 UTF-16 units, 1-byte lengths < 128 bytes)
  // and multi-byte varint lengths.
  const SAMPLES: [string, string][] = [
    ['empty', ''],
    ['ascii 42', 'a'.repeat(42)],
    ['ascii 43', 'a'.repeat(43)],
    ['ascii 44', 'a'.repeat(44)],
    ['ascii 127 bytes', 'b'.repeat(127)],
    ['ascii 128 bytes', 'b'.repeat(128)],
    ['é × 42 (84 bytes)', 'é'.repeat(42)],
    ['日 × 42 (126 bytes)', '日'.repeat(42)],
    ['本 × 43 (129 bytes)', '本'.repeat(43)],
    ['ascii then 日本', 'x'.repeat(40) + '日本'],
    ['emoji × 21 (42 units)', '🦅'.repeat(21)],
    ['emoji × 22 (44 units)', '🦅'.repeat(22)],
    ['mixed, 16 KB+', 'é日本🦅x'.repeat(1500)],
    ['ascii 70 KB (3-byte length)', 'z'.repeat(70_000)],
  ];

  test.each(SAMPLES)('rule: %s', (_name, text) => {
    expectDecodes({ rule: text }, { rule: text });
  });

  test.each(SAMPLES)('output: %s', (_name, text) => {
    expectDecodes({ output: text }, { output: text });
  });

  test.each(SAMPLES)('hostname: %s', (_name, text) => {
    expectDecodes({ hostname: text }, { hostname: text });
  });

  test.each(SAMPLES)('source: %s', (_name, text) => {
    expectDecodes({ source: text }, { source: text, sourceDeprecated: 3 });
  });

  test.each(SAMPLES)('tags: %s', (_name, text) => {
    expectDecodes({ tags: [text, 'after', text] }, { tags: [text, 'after', text] });
  });

  test.each(SAMPLES)('output_fields key, value and both: %s', (_name, text) => {
    expectDecodes(
      { output_fields: { [text + '#k']: 'v', k: text, [text]: text + '#v' } },
      { outputFields: { [text + '#k']: 'v', k: text, [text]: text + '#v' } },
    );
  });

  test.each([
    ['key + value = 39 units', 'k'.repeat(20), 'v'.repeat(19)],
    ['key + value = 40 units', 'k'.repeat(20), 'v'.repeat(20)],
    ['key + value = 41 units', 'k'.repeat(20), 'v'.repeat(21)],
    ['39 units, 3 bytes each (117 bytes)', '日'.repeat(20), '本'.repeat(19)],
    ['40 units, 3 bytes each (120 bytes)', '日'.repeat(20), '本'.repeat(20)],
    ['key 41 chars', 'proc.aname.'.repeat(3) + 'x'.repeat(8), 'bash'],
    ['value 41 chars', 'proc.cmdline', 'y'.repeat(41)],
    ['key and value 200 chars', 'k'.repeat(200), 'v'.repeat(200)],
    ['emoji key and value', '🦅'.repeat(30), '日本é'.repeat(30)],
  ])('map entry sizes: %s', (_name, key, value) => {
    expectDecodes(
      { output_fields: { before: '1', [key]: value, after: '2' } },
      { outputFields: { before: '1', [key]: value, after: '2' } },
    );
  });

  test.each([
    ['lone high surrogate', '\uD800', '\uFFFD'],
    ['lone low surrogate inside ascii', 'a\uDC00b', 'a\uFFFDb'],
    ['reversed pair', '\uDE00\uD83D', '\uFFFD\uFFFD'],
    ['high surrogate at the end of a long string', 'x'.repeat(50) + '\uD83D', 'x'.repeat(50) + '\uFFFD'],
    ['lone surrogates × 42 (126 bytes)', '\uDFFF'.repeat(42), '\uFFFD'.repeat(42)],
    ['lone surrogates × 43 (129 bytes)', '\uDFFF'.repeat(43), '\uFFFD'.repeat(43)],
  ])('%s becomes U+FFFD in every string field', (_name, text, expected) => {
    expectDecodes(
      {
        rule: text,
        output: text,
        hostname: text,
        source: text,
        tags: [text, 't'],
        output_fields: { [text]: 'v', k: text },
      },
      {
        rule: expected,
        output: expected,
        hostname: expected,
        source: expected,
        sourceDeprecated: 3,
        tags: [expected, 't'],
        outputFields: { [expected]: 'v', k: expected },
      },
    );
  });
});

describe('AlertEncoder: invalid alerts throw a TypeError naming the field', () => {
  const BAD: [string, unknown, string][] = [
    ['alert null', null, 'alert must be an object, got null'],
    ['alert 42', 42, 'alert must be an object, got number'],
    ['alert a string', 'rule', 'alert must be an object, got string'],
    ['rule missing', { ...BASE, rule: undefined }, 'rule must be a string, got undefined'],
    ['rule a number', { ...BASE, rule: 7 }, 'rule must be a string, got number'],
    ['priority missing', { ...BASE, priority: undefined }, 'priority must be a Falco priority name or a number 0-7, got undefined'],
    ['priority "loud"', { ...BASE, priority: 'loud' }, 'priority "loud" is not a Falco priority'],
    ['priority ""', { ...BASE, priority: '' }, 'priority "" is not a Falco priority'],
    ['priority 8', { ...BASE, priority: 8 }, 'priority must be a Falco priority name or a number 0-7, got number'],
    ['priority -1', { ...BASE, priority: -1 }, 'priority must be a Falco priority name or a number 0-7, got number'],
    ['priority 1.5', { ...BASE, priority: 1.5 }, 'priority must be a Falco priority name or a number 0-7, got number'],
    ['priority null', { ...BASE, priority: null }, 'priority must be a Falco priority name or a number 0-7, got null'],
    ['time "yesterday"', { ...BASE, time: 'yesterday' }, 'time "yesterday" is not RFC 3339'],
    ['time without zone', { ...BASE, time: '2025-11-27T05:00:00' }, 'time "2025-11-27T05:00:00" is not RFC 3339'],
    ['time with 10 digits', { ...BASE, time: '2025-11-27T05:00:00.0000000001Z' }, 'time "2025-11-27T05:00:00.0000000001Z" is not RFC 3339'],
    ['time 30 February', { ...BASE, time: '2025-02-30T00:00:00Z' }, 'time "2025-02-30T00:00:00Z" is not RFC 3339'],
    ['time 29 February 2025', { ...BASE, time: '2025-02-29T00:00:00Z' }, 'time "2025-02-29T00:00:00Z" is not RFC 3339'],
    ['time month 13', { ...BASE, time: '2025-13-01T00:00:00Z' }, 'time "2025-13-01T00:00:00Z" is not RFC 3339'],
    ['time hour 24', { ...BASE, time: '2025-11-27T24:00:00Z' }, 'time "2025-11-27T24:00:00Z" is not RFC 3339'],
    ['time offset +24:00', { ...BASE, time: '2025-11-27T05:00:00+24:00' }, 'time "2025-11-27T05:00:00+24:00" is not RFC 3339'],
    ['time day 00', { ...BASE, time: '2025-11-00T00:00:00Z' }, 'time "2025-11-00T00:00:00Z" is not RFC 3339'],
    ['time month 00', { ...BASE, time: '2025-00-10T00:00:00Z' }, 'time "2025-00-10T00:00:00Z" is not RFC 3339'],
    ['time 31 April', { ...BASE, time: '2025-04-31T00:00:00Z' }, 'time "2025-04-31T00:00:00Z" is not RFC 3339'],
    ['time 29 February 1900', { ...BASE, time: '1900-02-29T00:00:00Z' }, 'time "1900-02-29T00:00:00Z" is not RFC 3339'],
    ['time minute 60', { ...BASE, time: '2025-11-27T05:60:00Z' }, 'time "2025-11-27T05:60:00Z" is not RFC 3339'],
    ['time an invalid Date', { ...BASE, time: new Date(NaN) }, 'time must be a valid Date'],
    ['time without nanos', { ...BASE, time: { seconds: 1 } }, 'time must be a Date, an RFC 3339 string'],
    ['time a number', { ...BASE, time: 1764219600000 }, 'time must be a Date, an RFC 3339 string'],
    ['time null', { ...BASE, time: null }, 'time must be a Date, an RFC 3339 string'],
    ['time.nanos 1e9', { ...BASE, time: { seconds: 1, nanos: 1_000_000_000 } }, 'time.nanos must be an integer 0-999999999, got number'],
    ['time.nanos -1', { ...BASE, time: { seconds: 1, nanos: -1 } }, 'time.nanos must be an integer 0-999999999, got number'],
    ['time.nanos 0.5', { ...BASE, time: { seconds: 1, nanos: 0.5 } }, 'time.nanos must be an integer 0-999999999, got number'],
    ['time.nanos bigint', { ...BASE, time: { seconds: 1, nanos: 5n } }, 'time.nanos must be an integer 0-999999999, got bigint'],
    ['time.seconds a string', { ...BASE, time: { seconds: '1', nanos: 0 } }, 'time.seconds must be an integer, got string'],
    ['time.seconds 1.5', { ...BASE, time: { seconds: 1.5, nanos: 0 } }, 'time.seconds must be an integer, got number'],
    // Beyond google.protobuf.Timestamp's range no reader can print the time (it once crashed the output workers).
    ['time.seconds past year 9999', { ...BASE, time: { seconds: 1e15, nanos: 0 } }, 'time is outside 0001-01-01T00:00:00Z..9999-12-31T23:59:59Z (1000000000000000 seconds)'],
    ['time bigint nanoseconds before year 1', { ...BASE, time: -(10n ** 21n) }, 'time is outside 0001-01-01T00:00:00Z..9999-12-31T23:59:59Z'],
    ['output a number', { ...BASE, output: 1 }, 'output must be a string, got number'],
    ['source a number', { ...BASE, source: 0 }, 'source must be a string, got number'],
    ['hostname null', { ...BASE, hostname: null }, 'hostname must be a string, got null'],
    ['hostname an array', { ...BASE, hostname: ['h'] }, 'hostname must be a string, got array'],
    ['tags a string', { ...BASE, tags: 'container' }, 'tags must be an array of strings, got string'],
    ['tags containing a number', { ...BASE, tags: ['container', 1] }, 'tags[1] must be a string, got number'],
    ['tags containing null', { ...BASE, tags: ['a', 'b', null] }, 'tags[2] must be a string, got null'],
    ['output_fields a string', { ...BASE, output_fields: 'x' }, 'output_fields must be an object, got string'],
    ['output_fields null', { ...BASE, output_fields: null }, 'output_fields must be an object, got null'],
    ['output_fields an array', { ...BASE, output_fields: ['x'] }, 'output_fields must be an object, got array'],
    ['output_fields value an object', { ...BASE, output_fields: { ok: 1, 'proc.args': { a: 1 } } }, 'output_fields["proc.args"] must be a string, number, bigint, boolean or null, got object'],
    ['output_fields value an array', { ...BASE, output_fields: { list: [1] } }, 'output_fields["list"] must be a string, number, bigint, boolean or null, got array'],
    ['output_fields value undefined', { ...BASE, output_fields: { u: undefined } }, 'output_fields["u"] must be a string, number, bigint, boolean or null, got undefined'],
  ];

  test.each(BAD)('%s', (_name, alert, message) => {
    const encoder = new AlertEncoder(4096);
    let error: unknown;
    try {
      encoder.encode(alert as never);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toContain(`invalid alert: ${message}`);
    // The encoder is not left half-way: the next alert encodes as if nothing happened.
    expect(roundTrip(BASE, encoder)).toEqual(BASE_DECODED);
  });
});

describe('AlertEncoder: maxBytes', () => {
  const SIZED = [
    ['minimal', { rule: 'r', priority: 'info', hostname: 'h', time: { seconds: 1, nanos: 0 } }],
    ['BASE', BASE],
    ['long source last', { ...BASE, source: 's'.repeat(300) }],
    ['short tags last', { ...BASE, tags: ['a', 'bb', 'ccc'] }],
    ['multibyte', { ...BASE, output: '日本'.repeat(100), output_fields: { é: '🦅', ['k'.repeat(50)]: 'v' } }],
  ] as const;

  test.each(SIZED)('%s: exactly maxBytes encodes, one byte over throws', (_name, alert) => {
    const reference = new AlertEncoder(1 << 20);
    const size = reference.encode(alert);
    const bytes = Buffer.from(reference.scratch.subarray(0, size));

    for (const maxBytes of [size, size + 1, size + 130]) {
      const encoder = new AlertEncoder(maxBytes);
      expect(encoder.encode(alert), `maxBytes ${maxBytes}`).toBe(size);
      expect(Buffer.from(encoder.scratch.subarray(0, size))).toEqual(bytes);
    }
    expect(() => new AlertEncoder(size - 1).encode(alert)).toThrow(AlertTooLargeError);
  });

  test('in place (as into the ring), nothing is written past the window, remembered strings included', () => {
    // Recurring names are copied 4 bytes at a time from the encoder's cache: the last store
    // must still land inside the window, or it would overwrite the ring's next record.
    const alerts = SIZED.map(([, alert]) => alert).concat([
      { ...BASE, tags: ['container', 'mitre_execution'] },
      { ...BASE, source: 'k8s_audit' }, // a remembered string is the last field
      { ...BASE, source: 'aws_cloudtrail' },
      { ...BASE, output_fields: { 'proc.cmdline': 'bash -il', 'container.image.repository': 'nginx' }, tags: ['shell'] },
    ]);
    const encoder = new AlertEncoder(1 << 20);
    for (const alert of alerts) {
      const size = encoder.encode(alert);
      const bytes = Buffer.from(encoder.scratch.subarray(0, size));
      for (let window = size - 1; window <= size + 3; window++) {
        const out = Buffer.alloc(size + 64, 0xaa);
        if (window < size) {
          expect(() => encoder.encodeInto(alert, out as never, 7, window)).toThrow(AlertTooLargeError);
        } else {
          expect(encoder.encodeInto(alert, out as never, 7, window)).toBe(size);
          expect(out.subarray(7, 7 + size)).toEqual(bytes);
        }
        expect([...out.subarray(7 + window)].every((b) => b === 0xaa), `window ${window}`).toBe(true);
        expect([...out.subarray(0, 7)].every((b) => b === 0xaa)).toBe(true);
      }
    }
  });

  test('names that never repeat do not change what is written (the name cache stays bounded)', () => {
    // More distinct keys, rules, hostnames and tags than the cache holds, then the first ones again.
    const encoder = new AlertEncoder(1 << 20);
    const alertNo = (i: number) => ({
      ...BASE,
      rule: `rule number ${i}`,
      hostname: `host-${i}.example`,
      tags: [`tag-${i}-x`, 'container'],
      output_fields: { [`field.${i}.name`]: 'v', 'proc.name': `process-${i}` },
    });
    for (const i of [...Array.from({ length: 6000 }, (_, i) => i), 0, 1, 2, 5999]) {
      const alert = alertNo(i);
      expect(roundTrip(alert, encoder)).toEqual({
        ...BASE_DECODED,
        rule: alert.rule,
        hostname: alert.hostname,
        tags: alert.tags,
        outputFields: alert.output_fields,
      });
    }
  });

  test('a too-large alert throws AlertTooLargeError, and the encoder works on', () => {
    const encoder = new AlertEncoder(16 * 1024);
    const tooLarge = [
      { ...BASE, output: 'x'.repeat(17_000) },
      { ...BASE, output_fields: { 'proc.env': '日'.repeat(6000) } },
      { ...BASE, tags: Array.from({ length: 2000 }, (_, i) => `tag-${i}`) },
      { ...BASE, rule: 'é'.repeat(8200) },
    ];
    for (const alert of tooLarge) {
      let error: unknown;
      try {
        encoder.encode(alert);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(AlertTooLargeError);
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).message).toContain('16384');
      expect(roundTrip(BASE, encoder)).toEqual(BASE_DECODED);
    }
    // Just under the limit still fits.
    const fits = { ...BASE, output: 'x'.repeat(16_000) };
    expect(roundTrip(fits, encoder)).toEqual({ ...BASE_DECODED, output: 'x'.repeat(16_000) });
  });
});

describe('formatTime', () => {
  test.each([
    [1764219600n, 970, '2025-11-27T05:00:00.000000970Z'],
    [1764219600n, 0, '2025-11-27T05:00:00.000000000Z'],
    [1764219600n, 5, '2025-11-27T05:00:00.000000005Z'],
    [1764219600n, 123_000_000, '2025-11-27T05:00:00.123000000Z'],
    [1764219659n, 999_999_999, '2025-11-27T05:00:59.999999999Z'],
    [0n, 0, '1970-01-01T00:00:00.000000000Z'],
  ])('formatTime(%s, %i) = %s', (seconds, nanos, expected) => {
    expect(formatTime(seconds, nanos)).toBe(expected);
  });
});

describe('toFalcoJsonLine', () => {
  test('writes Falco field order, priority labels and null for "<NA>"', () => {
    const line = toFalcoJsonLine({
      ...BASE_DECODED,
      priority: 6,
      output: 'out "quoted"',
      tags: ['a'],
      outputFields: { n: '53', nothing: '<NA>', s: 'é' },
    });
    expect(line).toBe(
      '{"hostname":"worker-node-1","output":"out \\"quoted\\"","priority":"Informational",' +
        '"rule":"Terminal shell in container","source":"syscall","tags":["a"],' +
        '"time":"2025-11-27T05:00:00.000000970Z","output_fields":{"n":"53","nothing":null,"s":"é"}}',
    );
  });
});

// --- The 1,000 alerts of the shared data set ---

const BIGINT_MARK = '\u0000bigint:';

/** JSON.parse, except integers of 16+ digits become exact bigints (evt.time is beyond 2^53). */
function parseExact(line: string): Record<string, any> {
  // Strings are matched whole, so digits inside them are left alone.
  const marked = line.replace(/"(?:[^"\\]|\\.)*"|-?\d{16,}(?![.eE\d])/g, (token) =>
    token.startsWith('"') ? token : `"\\u0000bigint:${token}"`, // parses to BIGINT_MARK + digits
  );
  return JSON.parse(marked, (_key, value) =>
    typeof value === 'string' && value.startsWith(BIGINT_MARK) ? BigInt(value.slice(BIGINT_MARK.length)) : value,
  );
}

const SOURCE_ENUM: Record<string, number> = { syscall: 0, k8s_audit: 1, internal: 2 };

/** The decoded message a Falco JSON alert must become, computed without the codec. */
function expectedMessage(alert: Record<string, any>): response {
  const m = /^(.{19})\.(\d{9})Z$/.exec(alert.time)!;
  const outputFields: Record<string, string> = {};
  for (const [key, value] of Object.entries(alert.output_fields as Record<string, unknown>)) {
    outputFields[key] = value === null ? '<NA>' : String(value);
  }
  return {
    time: { seconds: BigInt(Date.parse(`${m[1]}Z`) / 1000), nanos: Number(m[2]) },
    priority: PRIORITY_NAMES.indexOf(alert.priority),
    sourceDeprecated: SOURCE_ENUM[alert.source] ?? 3,
    rule: alert.rule,
    output: alert.output,
    outputFields,
    hostname: alert.hostname,
    tags: alert.tags,
    source: alert.source,
  };
}

describe('the 1,000 alerts of falco-alerts.jsonl', () => {
  const lines = readFileSync(DATA, 'utf8').split('\n').filter((line) => line !== '');

  test('parseExact keeps evt.time exact', () => {
    expect(lines).toHaveLength(1000);
    const first = parseExact(lines[0]!);
    expect(first.output_fields['evt.time']).toBe(1764219600000000970n);
    expect(first.output_fields['fd.lport']).toBe(53);
    expect(first.output).toContain('05:00:00.000000970');
    const big = lines.filter((line) => typeof parseExact(line).output_fields['evt.time'] === 'bigint');
    expect(big.length).toBe(lines.filter((line) => line.includes('"evt.time":')).length);
    expect(big.length).toBeGreaterThan(0);
  });

  test('encode → decode gives every field; ts-proto encoding decodes the same', () => {
    const encoder = new AlertEncoder(64 * 1024);
    lines.forEach((line, i) => {
      const alert = parseExact(line);
      const expected = expectedMessage(alert);
      expect(expected.priority, `line ${i + 1}`).toBeGreaterThanOrEqual(0);
      const decoded = roundTrip(alert, encoder);
      expect(decoded, `line ${i + 1}`).toEqual(expected);
      expect(viaReference(expected), `line ${i + 1}`).toEqual(decoded);
    });
  });

  test('toFalcoJsonLine of the decoded alert gives back the line, with values as strings', () => {
    const encoder = new AlertEncoder(64 * 1024);
    lines.forEach((line, i) => {
      const alert = parseExact(line);
      const written = JSON.parse(toFalcoJsonLine(roundTrip(alert, encoder)));
      const outputFields: Record<string, string | null> = {};
      for (const [key, value] of Object.entries(alert.output_fields as Record<string, unknown>)) {
        outputFields[key] = value === null ? null : String(value);
      }
      expect(written, `line ${i + 1}`).toEqual({ ...alert, output_fields: outputFields });
      expect(written.time, `line ${i + 1}`).toBe(alert.time);
      expect(Object.keys(written), `line ${i + 1}`).toEqual(Object.keys(alert));
    });
  });
});
