// The receiver's envelope reader: what the generated encoder writes, it reads; what is broken,
// it names.

import { describe, expect, it } from 'vitest';
import { PublishRequest } from '../dist/src/gen/falco/transmit/v1/transmit.js';
import { response } from '../dist/src/gen/falco/outputs/outputs.js';
import { readPublishRequest, MalformedMessageError, PublishRequestWriter } from '../dist/src/codec/publish-request.js';

const alert = (rule: string) => ({
  time: { seconds: 1764219600n, nanos: 970 },
  priority: 5,
  sourceDeprecated: 0,
  rule,
  output: 'out',
  outputFields: { 'proc.name': 'bash' },
  hostname: 'h',
  tags: ['a'],
  source: 'syscall',
});

function encode(req: Partial<PublishRequest>): Buffer {
  return Buffer.from(PublishRequest.encode({ producerId: 'p', firstSeq: 1n, alerts: [], ...req } as PublishRequest).finish());
}

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Buffer.from(out);
}

describe('readPublishRequest', () => {
  it('reads producer, first sequence and each alert as bytes that decode to the alert', () => {
    const env = readPublishRequest(encode({ producerId: 'producer-ü', firstSeq: 123456789012n, alerts: [alert('a'), alert('b')] }));
    expect(env.producerId).toBe('producer-ü');
    expect(env.firstSeq).toBe(123456789012);
    expect(env.alerts.map((b) => response.decode(b).rule)).toEqual(['a', 'b']);
  });

  it('skips fields of a newer contract', () => {
    const extra = Buffer.from([0x20, 0x05, 0x2a, 0x02, 0x68, 0x69]); // field 4 varint, field 5 "hi"
    const env = readPublishRequest(Buffer.concat([encode({ alerts: [alert('a')] }), extra]));
    expect(env.alerts.length).toBe(1);
  });

  const broken: Array<[string, Buffer, RegExp]> = [
    ['garbage', Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x12, 0x99]), /truncated varint|wire type|claims/],
    ['a truncated alert', encode({ alerts: [alert('a')] }).subarray(0, 20), /alerts\[0\] at byte \d+ claims \d+ bytes, only \d+ remain/],
    ['an empty producer id', encode({ producerId: '' }), /producer_id is empty/],
    ['first_seq 0 with alerts', encode({ firstSeq: 0n, alerts: [alert('a')] }), /first_seq must be >= 1/],
    ['producer_id as a varint', Buffer.from([0x08, 0x01]), /field 1 has wire type 0/],
    ['an alert whose rule is a varint', Buffer.concat([encode({}), Buffer.from([0x1a, 0x02, 0x20, 0x01])]), /alerts\[0\]: field 4 has wire type 0, expected 2/],
    ['an invalid wire type', Buffer.concat([encode({}), Buffer.from([0x27])]), /wire type 7/],
    ['field number 0', Buffer.concat([encode({}), Buffer.from([0x00])]), /field number 0/],
    // An alert (field 3) whose own parts are broken: each one used to reach the JSON writer.
    ['a time cut off mid-varint', Buffer.concat([encode({}), Buffer.from([0x1a, 0x07, 0x22, 0x01, 0x72, 0x0a, 0x02, 0x08, 0x80])]), /alerts\[0\]: truncated varint \(time\.seconds\) at byte \d+/],
    ['a time past year 9999', Buffer.concat([encode({}), Buffer.from([0x1a, 0x09, 0x0a, 0x07, 0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10])]), /alerts\[0\]: time\.seconds at byte \d+ is outside/],
    ['nanos of a second or more', Buffer.concat([encode({}), Buffer.from([0x1a, 0x08, 0x0a, 0x06, 0x10, 0x80, 0x94, 0xeb, 0xdc, 0x03])]), /alerts\[0\]: time\.nanos at byte \d+ is not below one second/],
    ['an output_fields key as a varint', Buffer.concat([encode({}), Buffer.from([0x1a, 0x04, 0x32, 0x02, 0x08, 0x01])]), /alerts\[0\]: output_fields entry at byte \d+: key and value must be strings/],
    ['an output_fields value claiming 2^35 bytes', Buffer.concat([encode({}), Buffer.from([0x1a, 0x09, 0x32, 0x07, 0x12, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01])]), /claims \d+ bytes, only \d+ remain/],
  ];
  // The reader has a quick path for the shapes encoders write and a precise one for the rest:
  // both must take the same alerts and refuse the same ones.
  broken.push(
    ['an output_fields entry one byte longer than its key and value', Buffer.concat([encode({}), Buffer.from([0x1a, 0x09, 0x32, 0x07, 0x0a, 0x01, 0x6b, 0x12, 0x01, 0x76, 0x00])]), /alerts\[0\]: truncated varint \(field\)/],
    ['a priority cut off mid-varint', Buffer.concat([encode({}), Buffer.from([0x1a, 0x02, 0x10, 0x85])]), /alerts\[0\]: truncated varint \(priority\)/],
    ['an alert whose length runs past the request', Buffer.concat([encode({}), Buffer.from([0x1a, 0x85, 0x01, 0x10, 0x05])]), /alerts\[0\] at byte \d+ claims 133 bytes, only 2 remain/],
    ['a fixed64 field cut off', Buffer.concat([encode({}), Buffer.from([0x1a, 0x05, 0xe1, 0x3e, 0x01, 0x02, 0x03])]), /alerts\[0\]: truncated fixed-width field/],
  );

  it('reads alerts of unusual but valid shapes as the usual ones', () => {
    const long = 'x'.repeat(300); // 2-byte string lengths inside an output_fields entry
    const usual = Buffer.from(response.encode(alert('r')).finish());
    const shapes: Array<[string, Buffer]> = [
      ['long output_fields strings', Buffer.from(response.encode({ ...alert('r'), outputFields: { [long]: long } }).finish())],
      ['an unknown varint field with a 2-byte tag', Buffer.concat([usual, Buffer.from([0xc0, 0x3e, 0x05])])],
      ['an unknown field with a 3-byte tag', Buffer.concat([usual, Buffer.from([0x80, 0x80, 0x01, 0x05])])],
      ['unknown fixed32 and fixed64 fields', Buffer.concat([usual, Buffer.from([0x65, 1, 2, 3, 4, 0x61, 1, 2, 3, 4, 5, 6, 7, 8])])],
      ['an unknown field inside the time', Buffer.from([0x0a, 0x04, 0x08, 0x01, 0x18, 0x02, 0x10, 0x03])],
      ['a 70 KB output (3-byte length)', Buffer.from(response.encode({ ...alert('r'), output: 'o'.repeat(70_000) }).finish())],
    ];
    for (const [what, bytes] of shapes) {
      const env = readPublishRequest(Buffer.concat([encode({}), Buffer.from([0x1a]), varint(bytes.length), bytes]));
      expect(env.alerts.length, what).toBe(1);
      expect(env.alerts[0]!.equals(bytes), what).toBe(true);
      expect(env.priorities[0], what).toBe(response.decode(bytes).priority);
    }
  });

  it('PublishRequestWriter: alerts a few bytes apart (as in the ring) make the same request as alerts anywhere', () => {
    // Runs of nearby alerts in one buffer are copied in one piece, the bytes between them
    // overwritten with the next tag and a padded length: every reader must see the same alerts.
    const bodies = [1, 120, 127, 128, 630, 16_383, 16_384, 20_000].map((n, i) =>
      Buffer.from(response.encode({ ...alert(`rule ${i}`), output: 'o'.repeat(n) }).finish()),
    );
    for (const gap of [0, 1, 2, 3, 4, 5, 6, 7, 11, 12, 40]) {
      // Two buffers, alerts taken from them in turns of three: a run never joins across buffers.
      const data = [Buffer.alloc(200_000, 0xee), Buffer.alloc(200_000, 0xdd)];
      const at = [3, 5];
      const writer = new PublishRequestWriter('producer-1', 64);
      bodies.forEach((body, i) => {
        const b = Math.floor(i / 3) % 2;
        body.copy(data[b]!, at[b]!);
        writer.add(data[b]!, at[b]!, body.length);
        at[b]! += body.length + gap;
      });
      const size = writer.size(42);
      const request = writer.finish(42, Buffer.alloc(size + 10, 0xcc));
      expect(request.length, `gap ${gap}`).toBe(size);
      const generated = PublishRequest.decode(request);
      expect(generated.firstSeq).toBe(42n);
      expect(generated.alerts, `gap ${gap}`).toEqual(bodies.map((b) => response.decode(b)));
      const env = readPublishRequest(request);
      expect(env.alerts.map((a, i) => a.equals(bodies[i]!)), `gap ${gap}`).toEqual(bodies.map(() => true));
      expect(env.firstSeq).toBe(42);
      // The writer is reused: the next request holds only what was added after finish().
      writer.add(data[0]!, 3, bodies[0]!.length);
      expect(readPublishRequest(writer.finish(43)).alerts).toHaveLength(1);
    }
  });

  for (const [what, bytes, message] of broken) {
    it(`refuses ${what} with a message that says what and where`, () => {
      expect(() => readPublishRequest(bytes)).toThrow(MalformedMessageError);
      expect(() => readPublishRequest(bytes)).toThrow(message);
    });
  }
});
