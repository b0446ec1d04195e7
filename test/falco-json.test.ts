// Falco's JSON output lines in, Falco's JSON output lines out: every line of the sample
// data survives parse → encode → decode → format, 64-bit integers included.

import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { AlertEncoder } from '../dist/src/codec/alert.js';
import { MalformedAlertLineError, parseFalcoJsonLine, toFalcoJsonLine } from '../dist/src/codec/falco-json.js';
import { jsonLiteralKeys } from '../dist/src/codec/json-literals.js';
import { FalcoJsonWriter } from '../dist/src/codec/falco-json-bytes.js';
import { toFalcoTextLine } from '../dist/src/codec/format.js';
import { decodeAlert } from '../dist/src/index.js';

const LINES = readFileSync(fileURLToPath(new URL('./fixtures/falco-alerts.jsonl', import.meta.url)), 'utf8')
  .split('\n')
  .filter((l) => l !== '');

describe('parseFalcoJsonLine', () => {
  it('round-trips every line of the sample data byte for byte', () => {
    const encoder = new AlertEncoder(1 << 20);
    expect(LINES.length).toBe(1000);
    for (const line of LINES) {
      const n = encoder.encode(parseFalcoJsonLine(line));
      const bytes = encoder.scratch.subarray(0, n);
      expect(toFalcoJsonLine(decodeAlert(bytes), undefined, jsonLiteralKeys(bytes))).toBe(line);
    }
  });

  it('without the numbers mark (field 1000), as Falco clients see the map, values are strings', () => {
    const encoder = new AlertEncoder(1 << 20);
    const n = encoder.encode(parseFalcoJsonLine('{"rule":"r","priority":"Notice","time":"2025-11-27T05:00:00Z","output_fields":{"n":42,"b":true,"s":"42"}}'));
    const alert = decodeAlert(encoder.scratch.subarray(0, n));
    expect(alert.outputFields).toEqual({ n: '42', b: 'true', s: '42' });
    expect(toFalcoJsonLine(alert)).toContain('"output_fields":{"n":"42","b":"true","s":"42"}');
    expect(toFalcoJsonLine(alert, undefined, jsonLiteralKeys(encoder.scratch.subarray(0, n)))).toContain('"output_fields":{"n":42,"b":true,"s":"42"}');
  });

  it("the output workers' byte-level writer gives exactly toFalcoJsonLine's and toFalcoTextLine's lines", () => {
    const encoder = new AlertEncoder(1 << 20);
    const nasty = {
      rule: 'r"\\\n\t\u0001é€😀',
      priority: 'Alert',
      output: 'x\u001f\u007f "q"',
      tags: ['a"b', ''],
      output_fields: { 'k"\\': 'v\r\b\f', n: 12, b: false, z: null, big: 1764219600000000970n, f: 1.5, neg: -3, e: 1e21, s: '<NA>x', lead: '007' },
    };
    const cases = [...LINES.map(parseFalcoJsonLine), nasty, { rule: 'no output', priority: 'Warning', time: '2025-11-27T05:00:00.5Z' }];
    for (const switches of [{ output: true, tags: true, outputFields: true }, { output: false, tags: false, outputFields: false }, { output: true, tags: false, outputFields: true }]) {
      const writer = new FalcoJsonWriter(switches);
      for (const alert of cases) {
        const n = encoder.encode(alert as never);
        const bytes = encoder.scratch.subarray(0, n);
        const decoded = decodeAlert(bytes);
        expect(writer.line(bytes)).toBe(toFalcoJsonLine(decoded, switches, jsonLiteralKeys(bytes)));
        expect(writer.textLine(bytes)).toBe(toFalcoTextLine(decoded));
      }
    }
  });

  it('a value marked as a number by a peer is written unquoted only if it is one (no JSON injection)', () => {
    const encoder = new AlertEncoder(1 << 20);
    const n = encoder.encode({ rule: 'r', priority: 'Notice', output_fields: { x: '1,"evil":2', y: '7' } });
    const line = toFalcoJsonLine(decodeAlert(encoder.scratch.subarray(0, n)), undefined, new Set(['x', 'y']));
    expect(JSON.parse(line).output_fields).toEqual({ x: '1,"evil":2', y: 7 });
  });

  it('keeps integers beyond 2^53 exact, and leaves digits inside strings alone', () => {
    const alert = parseFalcoJsonLine(
      '{"rule":"r","priority":"Notice","time":"2025-11-27T05:00:00.000000970Z","output":"n=12345678901234567890 \\"q 98765432109876543210","output_fields":{"evt.time":1764219600000000970,"neg":-9007199254740993,"small":42,"f":1.5}}',
    );
    expect(alert.output).toBe('n=12345678901234567890 "q 98765432109876543210');
    expect(alert.output_fields).toEqual({ 'evt.time': 1764219600000000970n, neg: -9007199254740993n, small: 42, f: 1.5 });
  });

  const malformed: Array<[string, string, RegExp]> = [
    ['broken JSON', '{"rule":"r",', /not JSON/],
    ['an array', '[1,2]', /not a JSON object/],
    ['a missing rule', '{"priority":"Notice","time":"2025-11-27T05:00:00Z"}', /"rule" must be a string/],
    ['a numeric time', '{"rule":"r","priority":"Notice","time":1764219600}', /"time" must be a string/],
    ['garbage', '\u0000\u0001binary', /not JSON/],
  ];
  for (const [what, line, reason] of malformed) {
    it(`refuses ${what} with the reason`, () => {
      expect(() => parseFalcoJsonLine(line)).toThrow(MalformedAlertLineError);
      expect(() => parseFalcoJsonLine(line)).toThrow(reason);
    });
  }
});
