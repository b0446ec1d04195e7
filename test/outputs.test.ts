// The classic outputs and the fan-out, through the real ring-and-worker machinery: real files,
// a real HTTP server that hangs, a real gRPC receiver, real worker threads.

import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { createSocket } from 'node:dgram';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createFileOutput, createOutputs, createReceiver, toFalcoTextLine, type Output, type OutputStats } from '../dist/src/index.js';
import { parseFalcoJsonLine } from '../dist/src/codec/falco-json.js';
import { tempDir } from './helpers/pki.js';
import { CollectingSink, parseExact, numberedAlert, waitFor } from './helpers/harness.js';

const DATA = fileURLToPath(new URL('./fixtures/falco-alerts.jsonl', import.meta.url));
const LINES = readFileSync(DATA, 'utf8').trim().split('\n');

const cleanups: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function track<T extends { close(timeoutMs?: number): Promise<unknown> }>(output: T): T {
  cleanups.push(() => output.close(2000));
  return output;
}

const readLines = (path: string): string[] => (existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean) : []);
const balanced = (s: OutputStats): boolean => s.emitted === s.acked + s.pending + s.dropped;

async function emitSample(output: Pick<Output, 'emit'>): Promise<void> {
  for (const line of LINES) expect(output.emit(parseFalcoJsonLine(line))).toBe(true);
}

describe('formats, as Falco writes them', () => {
  it('JSON: every sample line comes back field for field', async () => {
    const file = join(tempDir(), 'events.json');
    const output = track(createFileOutput({ filename: file }));
    await emitSample(output);
    expect(await output.flush(20_000)).toEqual({ flushed: true, pending: 0 });
    const back = readLines(file);
    // Byte for byte, as Falco wrote them: numbers stay numbers (field 1000), 64-bit ones exact.
    expect(back).toEqual(LINES);
  });

  it('json_include_* switches leave out output, tags and output_fields', async () => {
    const file = join(tempDir(), 'events.json');
    const output = track(createFileOutput({ filename: file, format: { includeOutput: false, includeTags: false, includeOutputFields: false } }));
    await emitSample(output);
    expect((await output.flush(20_000)).flushed).toBe(true);
    readLines(file).forEach((line, i) => {
      const { output: _o, tags: _t, output_fields: _f, ...rest } = parseExact(LINES[i]!);
      expect(parseExact(line), `line ${i + 1}`).toEqual(rest);
      expect(Object.keys(JSON.parse(line) as object)).toEqual(['hostname', 'priority', 'rule', 'source', 'time']); // Falco's order
    });
  });

  it("text (json_output: false): each line is Falco's output string, time and priority first", async () => {
    const file = join(tempDir(), 'events.txt');
    const output = track(createFileOutput({ filename: file, format: { json: false } }));
    await emitSample(output);
    expect((await output.flush(20_000)).flushed).toBe(true);
    expect(readLines(file)).toEqual(LINES.map((line) => (JSON.parse(line) as { output: string }).output));
  });

  it('text for an alert emitted without an output string: time, priority and rule', () => {
    const line = toFalcoTextLine({ time: { seconds: 1764219600n, nanos: 970 }, priority: 4, rule: 'Write below etc', output: '' } as never);
    expect(line).toBe('05:00:00.000000970: Warning Write below etc');
  });
});

describe('createOutputs: one emit, many outputs', () => {
  it('a hanging HTTP endpoint fills and drops only its own share; file and gRPC get every alert', async () => {
    const hung: Array<() => void> = [];
    const server: Server = createServer((req) => {
      req.resume();
      hung.push(() => req.socket.destroy()); // never answers
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => { hung.forEach((end) => end()); server.close(() => resolve()); }));
    const port = (server.address() as { port: number }).port;

    const sink = new CollectingSink();
    const receiver = createReceiver({ listen: [`unix://${join(tempDir(), 'r.sock')}`], sink });
    cleanups.push(() => receiver.close());
    const [addr] = await receiver.start();

    const file = join(tempDir(), 'events.json');
    const outputs = track(
      createOutputs({
        bufferBytes: 256 * 1024, // each output's own ring: about 370 of these alerts
        grpc: { target: addr! },
        file: { filename: file, keepAlive: true },
        http: { url: `http://127.0.0.1:${port}/falco`, maxConcurrency: 2, timeoutMs: 60_000 },
      }),
    );
    const byName = (prefix: string): OutputStats => Object.entries(outputs.stats().outputs).find(([name]) => name.startsWith(prefix))![1];
    const total = 5000;
    let taken = 0;
    for (let i = 0; i < total; i++) {
      // Paced by the healthy outputs only: the hung one must not hold anything up.
      while (byName('file').pendingBytes > 64 * 1024 || byName('grpc').pendingBytes > 64 * 1024) await new Promise((resolve) => setTimeout(resolve, 1));
      outputs.emit(numberedAlert(i));
      taken++;
    }
    expect(taken).toBe(total); // emit() never blocked or threw while one output was stuck
    await waitFor('file and gRPC delivered everything', () => byName('file').acked === total && byName('grpc').acked === total, 30_000);
    expect(sink.seqs()).toEqual([...Array(total).keys()]);
    expect(readLines(file).map((l) => Number((JSON.parse(l) as { output_fields: { seq: string } }).output_fields.seq))).toEqual([...Array(total).keys()]);
    const http = byName('http');
    expect(http.drops.full).toBeGreaterThan(total / 2); // its ring filled behind the hung requests
    expect(http.acked).toBe(0);
    expect(byName('file').dropped + byName('grpc').dropped).toBe(0);
    for (const s of Object.values(outputs.stats().outputs)) expect(balanced(s), JSON.stringify(s)).toBe(true);
    expect(outputs.stats().emitted).toBe(total);
  });

  it('an invalid alert throws a clear TypeError, is counted by every output, and the next one goes through', async () => {
    const dir = tempDir();
    const outputs = track(createOutputs({ file: { filename: join(dir, 'a.json') }, program: { program: `cat >> ${join(dir, 'b.json')}`, keepAlive: true } }));
    expect(outputs.emit(numberedAlert(0))).toBe(true);
    expect(() => outputs.emit({ rule: 'x' } as never)).toThrow(TypeError);
    expect(outputs.emit(numberedAlert(1))).toBe(true);
    expect((await outputs.flush(10_000)).flushed).toBe(true);
    for (const s of Object.values(outputs.stats().outputs)) {
      expect(s).toMatchObject({ emitted: 3, acked: 2, dropped: 1, drops: { invalid: 1 } });
    }
    await waitFor('program wrote both', () => readLines(join(dir, 'b.json')).length === 2);
    expect(readLines(join(dir, 'a.json'))).toHaveLength(2);
  });

  it('honours maxAlertBytes above the 1 MiB default: a 2 MiB alert goes through the fan-out', async () => {
    const file = join(tempDir(), 'big.json');
    const outputs = track(createOutputs({ file: { filename: file }, maxAlertBytes: 4 * 1024 * 1024, bufferBytes: 16 * 1024 * 1024 }));
    expect(outputs.emit({ ...numberedAlert(0), output: 'x'.repeat(2 * 1024 * 1024) })).toBe(true);
    expect((await outputs.flush(10_000)).flushed).toBe(true);
    expect((JSON.parse(readLines(file)[0]!) as { output: string }).output).toHaveLength(2 * 1024 * 1024);
  });

  it('refuses bad options before any thread starts, naming the output and the option', () => {
    expect(() => createOutputs({})).toThrow(/no output enabled/);
    expect(() => createOutputs({ http: { url: 'ftp://x' } })).toThrow(/http output: url must be an http:\/\/ or https:\/\/ URL, got "ftp:\/\/x"/);
    expect(() => createOutputs({ file: { filename: '' } })).toThrow(/file output: filename is required/);
    expect(() => createOutputs({ syslog: { address: 'dev/log' } })).toThrow(/syslog output: address must be/);
    expect(() => createOutputs({ file: { filename: '/tmp/x' }, bufferBytes: -1 })).toThrow(/bufferBytes must be a number >= 1/);
  });
});

describe('syslog through its worker', () => {
  it('each alert is one RFC 5424 datagram with the priority as severity', async () => {
    const socket = createSocket('udp4');
    const got: string[] = [];
    socket.on('message', (msg) => got.push(msg.toString()));
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => socket.close(() => resolve())));
    const outputs = track(createOutputs({ syslog: { address: `udp://127.0.0.1:${socket.address().port}`, facility: 'local0' } }));
    for (let i = 0; i < 100; i++) outputs.emit(numberedAlert(i)); // even: Notice (5), odd: Warning (4)
    expect((await outputs.flush(10_000)).flushed).toBe(true);
    await waitFor('100 datagrams', () => got.length === 100, 10_000);
    const seqOf = (m: string): number => Number(/"seq":(\d+)/.exec(m)![1]);
    got.sort((a, b) => seqOf(a) - seqOf(b));
    expect(got[0]).toMatch(/^<133>1 \S+ worker-node-1 falco \S+ - - \{"hostname":"worker-node-1"/); // local0 (16) * 8 + Notice (5)
    expect(got[1]).toMatch(/^<132>1 /); // Warning (4)
  });
});

describe('failures are counted, never silent', () => {
  it('an unwritable file: every alert counted as failed, lastError names the path', async () => {
    const output = track(createFileOutput({ filename: '/nonexistent-dir/events.json' }));
    for (let i = 0; i < 10; i++) output.emit(numberedAlert(i));
    // The reason comes from the worker as a message, a moment after the counters.
    await waitFor('all given up, and why', () => output.stats().drops.failed === 10 && output.stats().lastError !== null, 20_000);
    // Counted failed means no longer pending: stats() never shows an alert as both (it showed acked -10).
    const s = output.stats();
    expect(s).toMatchObject({ emitted: 10, acked: 0, pending: 0, dropped: 10, connection: 'backoff' });
    expect(s.lastError).toMatch(/\/nonexistent-dir\/events\.json/);
  });

  // The file channel also notices the rename by itself (it compares inodes before each batch), so this
  // shows rotation end to end through reopen(); it would pass with reopen() a no-op.
  it('after logrotate renames the file and reopen() (the SIGHUP path) runs, writing moves to a new file', async () => {
    const dir = tempDir();
    const file = join(dir, 'events.json');
    const outputs = track(createOutputs({ file: { filename: file, keepAlive: true } }));
    for (let i = 0; i < 100; i++) outputs.emit(numberedAlert(i));
    expect((await outputs.flush(10_000)).flushed).toBe(true);
    renameSync(file, `${file}.1`);
    await outputs.reopen();
    for (let i = 100; i < 200; i++) outputs.emit(numberedAlert(i));
    expect((await outputs.flush(10_000)).flushed).toBe(true);
    expect(readLines(`${file}.1`)).toHaveLength(100);
    expect(readLines(file).map((l) => Number((JSON.parse(l) as { output_fields: { seq: string } }).output_fields.seq))).toEqual([...Array(100).keys()].map((i) => i + 100));
  });
});
