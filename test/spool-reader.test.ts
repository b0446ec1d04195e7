// The spool's store and reader in one thread, on real files: a reader close behind the writer
// takes the latest commits from memory (the bytes as written), and what is older is read from
// the file with every checksum checked, so damage on disk is still found and counted.

import { afterEach, describe, expect, it } from 'vitest';
import { openSync, closeSync, readdirSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { resolveSpool } from '../dist/src/spool/options.js';
import { SpoolStore } from '../dist/src/spool/store.js';
import { SpoolReader } from '../dist/src/spool/reader.js';
import { RECORD_HEADER_BYTES, SEGMENT_HEADER_BYTES, segmentHeader, segmentName } from '../dist/src/spool/format.js';
import { tempDir } from './helpers/pki.js';

const stores: SpoolStore[] = [];
afterEach(() => {
  for (const store of stores.splice(0)) store.close();
});

const PAYLOAD = 1000;
const payloadFor = (seq: number) => Buffer.alloc(PAYLOAD, `alert #${seq};`);

/** A store on `dir` (a new one by default), opened as a process opens it. */
function openStore(dir = tempDir('spool-reader-')) {
  const cfg = resolveSpool('test', { dir, maxBytes: 256 * 1024 * 1024, fsync: 'never' }, 64 * 1024)!;
  const store = new SpoolStore(cfg, { log: () => {}, dropped: () => {} });
  stores.push(store);
  const opened = store.open();
  return { dir, store, opened };
}

/** Closes `store` as its process ends. */
function closeStore(store: SpoolStore): void {
  store.close();
  stores.splice(stores.indexOf(store), 1);
}

function append(store: SpoolStore, from: number, to: number): void {
  for (let seq = from; seq <= to; seq++) {
    const data = payloadFor(seq);
    expect(store.append(data, 0, data.length, seq, Date.now())).toBe(seq);
    if (seq % 100 === 0) store.commit();
  }
  store.commit();
}

/** Every record from `seq` on, as read, and the losses reported. */
function readFrom(store: SpoolStore, seq: number) {
  const lost: string[] = [];
  const reader = new SpoolReader(store, { lost: (from, to, why) => lost.push(`#${from}..#${to}: ${why}`), readError: (t) => lost.push(t) });
  reader.seek(seq);
  const got: { seq: number; intact: boolean }[] = [];
  for (let r = reader.take(); r !== null; r = reader.take()) {
    got.push({ seq: r.seq, intact: Buffer.from(r.data.subarray(r.offset, r.offset + r.length)).equals(payloadFor(r.seq)) });
  }
  return { got, lost };
}

/** Overwrites the payload of record `seq` (all records the same size) in the one segment file. */
function damageOnDisk(dir: string, seq: number): void {
  const segment = readdirSync(dir).filter((n) => n.endsWith('.seg'));
  expect(segment).toHaveLength(1);
  const fd = openSync(join(dir, segment[0]!), 'r+');
  writeSync(fd, Buffer.alloc(16, 0x58), 0, 16, SEGMENT_HEADER_BYTES + (seq - 1) * (RECORD_HEADER_BYTES + PAYLOAD) + RECORD_HEADER_BYTES + 10);
  closeSync(fd);
}

describe('spool reader', () => {
  it('reads the latest commits from memory: damage on disk under them changes nothing', () => {
    const { dir, store } = openStore();
    append(store, 1, 300);
    damageOnDisk(dir, 150);
    const { got, lost } = readFrom(store, 1);
    expect(lost).toEqual([]);
    expect(got.map((r) => r.seq)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    expect(got.every((r) => r.intact)).toBe(true);
  });

  it('reads what is older from the file and checks it: a damaged record there is skipped and reported', () => {
    const { dir, store } = openStore();
    append(store, 1, 300);
    damageOnDisk(dir, 150);
    // Well over the 4 MiB the store keeps in memory: records 1..300 are only on disk now.
    append(store, 301, 301 + Math.ceil((8 * 1024 * 1024) / PAYLOAD));
    const { got, lost } = readFrom(store, 1);
    expect(lost).toHaveLength(1);
    expect(lost[0]).toMatch(/^#150\.\.#150: damaged bytes .* \(bad checksum\)$/);
    expect(got.some((r) => r.seq === 150)).toBe(false);
    expect(got).toHaveLength(store.lastSeq - 1);
    expect(got.every((r) => r.intact)).toBe(true);
  });

  it('a process that opens the directory reads everything from the file', () => {
    const first = openStore();
    append(first.store, 1, 300);
    closeStore(first.store);
    damageOnDisk(first.dir, 7);
    const { got, lost } = readFrom(openStore(first.dir).store, 1);
    expect(lost).toEqual([expect.stringMatching(/^#7\.\.#7: .*bad checksum/)]);
    expect(got).toHaveLength(299);
  });
});

describe('spool store at open', () => {
  it('a last segment with only its header, behind unacknowledged ones: the new records under its name are read, kept after the ack, and found by the next process', () => {
    const first = openStore();
    append(first.store, 1, 10);
    closeStore(first.store);
    // A crash right after creating the next segment leaves it like this: a header, no record.
    writeFileSync(join(first.dir, segmentName(11)), segmentHeader(11, Date.now()));
    const second = openStore(first.dir);
    expect(second.opened).toMatchObject({ ackedSeq: 0, lastSeq: 10 });
    // A new process appends to a new segment: it starts at #11, the header-only one's name.
    append(second.store, 11, 20);
    const { got, lost } = readFrom(second.store, 1);
    expect(lost).toEqual([]);
    expect(got.map((r) => r.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    second.store.ackThrough(10);
    closeStore(second.store);
    const third = openStore(first.dir);
    expect(third.opened).toMatchObject({ ackedSeq: 10, lastSeq: 20 });
    expect(readFrom(third.store, 11).got.map((r) => r.seq)).toEqual(Array.from({ length: 10 }, (_, i) => i + 11));
  });
});
