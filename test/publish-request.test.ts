// The receiver's envelope reader: what the generated encoder writes, it reads; what is broken,
// it names.

import { describe, expect, it } from 'vitest';
import { PublishRequest } from '../dist/src/gen/falco/transmit/v1/transmit.js';
import { response } from '../dist/src/gen/falco/outputs/outputs.js';
import { readPublishRequest, MalformedMessageError } from '../dist/src/codec/publish-request.js';

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
  for (const [what, bytes, message] of broken) {
    it(`refuses ${what} with a message that says what and where`, () => {
      expect(() => readPublishRequest(bytes)).toThrow(MalformedMessageError);
      expect(() => readPublishRequest(bytes)).toThrow(message);
    });
  }
});
