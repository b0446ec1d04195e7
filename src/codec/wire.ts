// Protobuf's wire format, the one home of varints and field framing: the readers check every length
// and say what is wrong and at which byte; the writers are what the encoders and the sender use.

/** Thrown for bytes that are not a well-formed PublishRequest; the message says what and where. */
export class MalformedMessageError extends Error {}

/** Reads protobuf wire format from a Buffer, with errors that say what and at which byte. */
export class Reader {
  pos = 0;
  constructor(
    public buf: Buffer,
    public end: number,
  ) {}

  /** Reads another message with the same reader (no allocation per message). */
  reset(buf: Buffer, start: number, end: number): void {
    this.buf = buf;
    this.pos = start;
    this.end = end;
  }

  varint(what: string): number {
    let result = 0;
    let shift = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new MalformedMessageError(`truncated varint (${what}) at byte ${this.pos}`);
      const b = this.buf[this.pos++]!;
      result += (b & 0x7f) * shift;
      if (b < 0x80) return result; // beyond 2^53 loses precision; no field here needs that
      shift *= 128;
    }
    throw new MalformedMessageError(`varint longer than 10 bytes (${what}) at byte ${this.pos}`);
  }

  /** A varint as a signed 64-bit integer (Timestamp.seconds before 1970 are 10-byte two's complement). */
  varint64(what: string): bigint {
    let result = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new MalformedMessageError(`truncated varint (${what}) at byte ${this.pos}`);
      const b = this.buf[this.pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return BigInt.asIntN(64, result);
      shift += 7n;
    }
    throw new MalformedMessageError(`varint longer than 10 bytes (${what}) at byte ${this.pos}`);
  }

  /** Like bytes(), into a caller's [start, end] pair, so a hot loop allocates nothing. */
  span(into: number[], what: string): void {
    const len = this.varint(`${what} length`);
    const start = this.pos;
    if (len > this.end - start) {
      throw new MalformedMessageError(`${what} at byte ${start} claims ${len} bytes, only ${this.end - start} remain`);
    }
    into[0] = start;
    into[1] = this.pos = start + len;
  }

  /** Start and end of a length-delimited field's payload. */
  bytes(what: string): [number, number] {
    const len = this.varint(`${what} length`);
    const start = this.pos;
    if (len > this.end - start) {
      throw new MalformedMessageError(`${what} at byte ${start} claims ${len} bytes, only ${this.end - start} remain`);
    }
    this.pos = start + len;
    return [start, start + len];
  }

  /** Skips a field of an unknown number, by its wire type. */
  skip(wireType: number, tagAt: number): void {
    switch (wireType) {
      case 0:
        this.varint('field');
        return;
      case 1:
        this.advance(8, tagAt);
        return;
      case 2:
        this.bytes('field');
        return;
      case 5:
        this.advance(4, tagAt);
        return;
      default:
        throw new MalformedMessageError(`wire type ${wireType} of the field at byte ${tagAt} is not valid`);
    }
  }

  private advance(n: number, tagAt: number): void {
    if (this.pos + n > this.end) throw new MalformedMessageError(`truncated fixed-width field at byte ${tagAt}`);
    this.pos += n;
  }
}

/** Bytes of a protobuf varint for a non-negative number. */
export function varintSize(value: number): number {
  let size = 1;
  while (value > 0x7f) {
    value = Math.floor(value / 128);
    size++;
  }
  return size;
}

/** Writes a non-negative number as a varint at `pos`; returns the position after it. */
export function writeVarint(out: Uint8Array, pos: number, value: number): number {
  while (value > 0x7f) {
    out[pos++] = (value & 0x7f) | 0x80;
    value = Math.floor(value / 128);
  }
  out[pos++] = value;
  return pos;
}
