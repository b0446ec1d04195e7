// The syslog and http channels against real peers: UDP, TCP and unix datagram syslog receivers,
// and HTTP/HTTPS servers that fail, throttle, hang or demand a client certificate.

import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { createDevPki, type FalcoAlert } from '../dist/src/index.js';
import type { ChannelItem, DeliveryReport } from '../dist/src/destinations/channels/channel.js';
import { SyslogChannel, TRUNCATION_MARKER } from '../dist/src/destinations/channels/syslog/syslog.js';
import { HttpChannel } from '../dist/src/destinations/channels/http/http.js';
import { serverTls, tempDir, testPki, writePki } from './helpers/pki.js';
import { httpPeer, tcpPeer, udpPeer, unixDgramPeer, unusedPort, type ReceivedRequest } from './helpers/net-peers.js';

// RFC 3164 stamps local time; pin the zone so the expected bytes below are literal.
process.env.TZ = 'UTC';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
function closeLater<T extends { close(): Promise<unknown> }>(thing: T): T {
  cleanups.push(() => thing.close());
  return thing;
}

const never = new AbortController().signal;
const PRIORITY_NAMES = ['Emergency', 'Alert', 'Critical', 'Error', 'Warning', 'Notice', 'Informational', 'Debug'];
// 2023-11-03T08:26:40.123456789Z: a single-digit day shows RFC 3164's space padding.
const SECONDS = 1699000000n;
const NANOS = 123456789;

function alert(priority: number, overrides: Partial<FalcoAlert> = {}): FalcoAlert {
  return {
    time: { seconds: SECONDS, nanos: NANOS },
    priority,
    sourceDeprecated: 0,
    rule: 'Terminal shell in container',
    output: 'A shell was spawned',
    outputFields: { 'proc.name': 'bash' },
    hostname: 'worker-node-1',
    tags: ['shell'],
    source: 'syscall',
    ...overrides,
  };
}

/** Falco's sample alert lines as items, the priority of each one its index mod 8. */
const FIXTURE_LINES = readFileSync(new URL('./fixtures/falco-alerts.jsonl', import.meta.url), 'utf8').trim().split('\n');
function items(count: number): ChannelItem[] {
  return Array.from({ length: count }, (_, i) => ({ alert: alert(i % 8), line: FIXTURE_LINES[i % FIXTURE_LINES.length]! }));
}

function expectWhole(report: DeliveryReport, total: number): void {
  expect(report.delivered + report.failed).toBe(total);
  if (report.failed > 0) expect(report.error).toBeTruthy();
}

const FAST = { attempts: 2, backoff: { baseMs: 5, capMs: 20 }, connectTimeoutMs: 2000, stallTimeoutMs: 500 };

describe('syslog channel', () => {
  it('sends RFC 5424 over UDP, byte for byte: PRI from facility and severity for every priority, APP-NAME, MSG', async () => {
    const peer = closeLater(await udpPeer());
    const channel = closeLater(new SyslogChannel({ address: `udp://127.0.0.1:${peer.port}`, facility: 'local3', appName: 'falco-x' }));
    const batch = PRIORITY_NAMES.map((name, p) => ({ alert: alert(p), line: `${name} alert #${p} ünïcødé` }));
    expect(await channel.deliver(batch, never)).toEqual({ delivered: 8, failed: 0 });
    const received = await peer.inbox.waitFor(8);
    expect(received.map((m) => m.toString())).toEqual(
      PRIORITY_NAMES.map(
        (name, p) => `<${19 * 8 + p}>1 2023-11-03T08:26:40.123456Z worker-node-1 falco-x ${process.pid} - - ${name} alert #${p} ünïcødé`,
      ),
    );
  });

  it('sends RFC 3164 over UDP with the TAG, a space-padded day and the hostname; user facility by default', async () => {
    const peer = closeLater(await udpPeer());
    const channel = closeLater(new SyslogChannel({ address: `udp://127.0.0.1:${peer.port}`, format: 'rfc3164' }));
    const batch = [
      { alert: alert(0), line: 'emergency' },
      { alert: alert(4, { hostname: '' }), line: 'no hostname in the alert' },
      { alert: alert(7, { hostname: 'odd host\tname' }), line: 'debug' },
    ];
    expect(await channel.deliver(batch, never)).toEqual({ delivered: 3, failed: 0 });
    expect((await peer.inbox.waitFor(3)).map((m) => m.toString())).toEqual([
      `<8>Nov  3 08:26:40 worker-node-1 falco[${process.pid}]: emergency`,
      `<12>Nov  3 08:26:40 ${hostname()} falco[${process.pid}]: no hostname in the alert`,
      `<15>Nov  3 08:26:40 odd_host_name falco[${process.pid}]: debug`,
    ]);
  });

  it('cuts a message too large for a UDP datagram at 65,507 bytes, with a marker, and still sends the rest', async () => {
    const peer = closeLater(await udpPeer());
    const channel = closeLater(new SyslogChannel({ address: `udp://127.0.0.1:${peer.port}` }));
    const huge = 'é'.repeat(40_000); // 80,000 bytes of two-byte characters
    const report = await channel.deliver([{ alert: alert(4), line: huge }, { alert: alert(4), line: 'small' }], never);
    expect(report).toEqual({ delivered: 2, failed: 0 });
    const [big, small] = await peer.inbox.waitFor(2);
    expect(big!.length).toBeLessThanOrEqual(65_507);
    expect(big!.length).toBeGreaterThan(65_490);
    const text = big!.toString();
    expect(text.endsWith(TRUNCATION_MARKER)).toBe(true);
    expect(text).not.toContain('\ufffd'); // cut between characters, never inside one
    expect(text).toMatch(/^<12>1 \S+ worker-node-1 falco \d+ - - éé/);
    expect(small!.toString()).toMatch(/ - - small$/);
    expect(channel.truncatedCount).toBe(1);
  });

  it('fails the items when the UDP receiver refuses (ICMP port unreachable), naming the address', async () => {
    const port = await unusedPort('udp');
    const channel = closeLater(new SyslogChannel({ address: `udp://127.0.0.1:${port}` }, FAST));
    const report = await channel.deliver(items(20), never);
    expectWhole(report, 20);
    expect(report.failed).toBe(20);
    expect(report.error).toBe(`syslog udp://127.0.0.1:${port}: ECONNREFUSED (ICMP port unreachable: nothing listens there) after 2 attempts`);
  });

  it('sends RFC 5424 over TCP with RFC 6587 octet counting: every item, byte counts for multi-byte text and newlines', async () => {
    const peer = closeLater(await tcpPeer());
    const channel = closeLater(new SyslogChannel({ address: `tcp://127.0.0.1:${peer.port}`, facility: 'daemon' }));
    const batch = items(3000);
    batch[1] = { alert: alert(1), line: 'two\nlines and ✓ ünïcødé' };
    expect(await channel.deliver(batch, never)).toEqual({ delivered: 3000, failed: 0 });
    const frames = await peer.inbox.waitFor(3000);
    expect(frames).toHaveLength(3000);
    frames.forEach((frame, i) => {
      expect(frame.toString()).toBe(
        `<${3 * 8 + (i % 8)}>1 2023-11-03T08:26:40.123456Z worker-node-1 falco ${process.pid} - - ${batch[i]!.line}`,
      );
    });
    expect(peer.connections).toHaveLength(1); // one connection kept across the batch
  });

  it('reconnects over TCP after the receiver dropped the connection, and counts what it could not send', async () => {
    const peer = closeLater(await tcpPeer());
    const channel = closeLater(new SyslogChannel({ address: `tcp://127.0.0.1:${peer.port}` }, FAST));
    expect(await channel.deliver(items(10), never)).toEqual({ delivered: 10, failed: 0 });
    await peer.inbox.waitFor(10);
    await peer.dropConnections();
    // Writes may still land in the dead connection's kernel buffer before its end is seen: TCP syslog
    // has no receipts. The count adds up either way, and the next batch goes out on a new connection.
    expectWhole(await channel.deliver(items(10), never), 10);
    const third = items(5).map((item, i) => ({ ...item, line: `third batch #${i}` }));
    expect(await channel.deliver(third, never)).toEqual({ delivered: 5, failed: 0 });
    const frames = await peer.inbox.waitFor(15);
    expect(frames.slice(-5).map((f) => f.toString().replace(/^.* - - /, ''))).toEqual(third.map((t) => t.line));
    expect(peer.connections.length).toBeGreaterThanOrEqual(2);
  });

  it('fails a batch to a refused TCP port after its retries, naming the address, then delivers once a receiver listens there', async () => {
    const port = await unusedPort('tcp');
    const channel = closeLater(new SyslogChannel({ address: `tcp://127.0.0.1:${port}` }, FAST));
    const report = await channel.deliver(items(50), never);
    expect(report).toEqual({
      delivered: 0,
      failed: 50,
      error: `syslog tcp://127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port} after 2 attempts`,
    });
    const peer = closeLater(await tcpPeer({ port }));
    expect(await channel.deliver(items(50), never)).toEqual({ delivered: 50, failed: 0 });
    expect(await peer.inbox.waitFor(50)).toHaveLength(50);
  });

  it('gives up on a TCP receiver that stops reading, after the stall timeout, and resolves', async () => {
    const peer = closeLater(await tcpPeer({ read: false }));
    // One attempt: a retry would reconnect, and each new connection soaks up megabytes of kernel buffers.
    const channel = closeLater(new SyslogChannel({ address: `tcp://127.0.0.1:${peer.port}` }, { ...FAST, attempts: 1 }));
    const big = 'x'.repeat(60_000);
    const batch = Array.from({ length: 300 }, (_, i) => ({ alert: alert(i % 8), line: big })); // 18 MB, beyond the socket buffers
    const report = await channel.deliver(batch, never);
    expectWhole(report, 300);
    expect(report.failed).toBeGreaterThan(0);
    expect(report.error).toBe(`syslog tcp://127.0.0.1:${peer.port}: the receiver took no data within 500 ms after 1 attempt`);
  });

  it('stops retrying when the signal aborts and counts the rest as failed', async () => {
    const port = await unusedPort('tcp');
    const slow = { ...FAST, attempts: 5, backoff: { baseMs: 60_000, capMs: 60_000 } };
    const channel = closeLater(new SyslogChannel({ address: `tcp://127.0.0.1:${port}` }, slow));
    const abort = new AbortController();
    const pending = channel.deliver(items(7), abort.signal);
    abort.abort();
    const report = await pending;
    expect(report).toMatchObject({ delivered: 0, failed: 7 });
    expect(report.error).toMatch(new RegExp(`^syslog tcp://127.0.0.1:${port}: .*ECONNREFUSED.* after 1 attempt, then aborted$`));
  });

  describe('on a unix datagram socket', () => {
    let dir: string;
    beforeAll(() => {
      dir = tempDir('fgo-syslog-');
    });

    it('sends RFC 5424 and RFC 3164 (without HOSTNAME, as glibc does locally) to the socket, every item', async () => {
      const path = join(dir, 'log');
      const peer = closeLater(await unixDgramPeer(path));
      const rfc5424 = closeLater(new SyslogChannel({ address: `unix://${path}`, facility: 'LOCAL7' }));
      const rfc3164 = closeLater(new SyslogChannel({ address: `unix://${path}`, format: 'rfc3164', facility: 'auth' }));
      const batch = items(500);
      expect(await rfc5424.deliver(batch, never)).toEqual({ delivered: 500, failed: 0 });
      expect(await rfc3164.deliver(batch.slice(0, 8), never)).toEqual({ delivered: 8, failed: 0 });
      const received = (await peer.inbox.waitFor(508)).map((m) => m.toString());
      expect(received.slice(0, 500)).toEqual(
        batch.map((item, i) => `<${23 * 8 + (i % 8)}>1 2023-11-03T08:26:40.123456Z worker-node-1 falco ${process.pid} - - ${item.line}`),
      );
      expect(received.slice(500)).toEqual(batch.slice(0, 8).map((item, i) => `<${4 * 8 + i}>Nov  3 08:26:40 falco[${process.pid}]: ${item.line}`));
    });

    it('works from several worker threads at once and one after another, and survives a worker terminated mid-use', async () => {
      const path = join(dir, 'log-workers');
      const peer = closeLater(await unixDgramPeer(path));
      const start = (tag: string, keepOpen = false): { worker: Worker; report: Promise<DeliveryReport> } => {
        const worker = new Worker(new URL('./fixtures/syslog-worker.mjs', import.meta.url), {
          workerData: { address: `unix://${path}`, tag, count: 50, keepOpen },
        });
        const report = new Promise<DeliveryReport>((resolve, reject) => {
          worker.once('message', resolve);
          worker.once('error', reject);
          worker.once('exit', (code) => reject(new Error(`worker ${tag} exited with ${code} before reporting`)));
        });
        return { worker, report };
      };
      const [w1, w2] = [start('w1'), start('w2')];
      expect(await Promise.all([w1.report, w2.report])).toEqual([{ delivered: 50, failed: 0 }, { delivered: 50, failed: 0 }]);
      expect(await start('w3').report).toEqual({ delivered: 50, failed: 0 });
      // Terminated with its socket open, as a host's pool does on shutdown: the process lives on.
      const held = start('w4', true);
      expect(await held.report).toEqual({ delivered: 50, failed: 0 });
      await held.worker.terminate();
      expect(await start('w5').report).toEqual({ delivered: 50, failed: 0 });
      const received = (await peer.inbox.waitFor(250)).map((m) => m.toString());
      for (const tag of ['w1', 'w2', 'w3', 'w4', 'w5']) {
        expect(received.filter((m) => m.includes(` ${tag} ${process.pid} - - ${tag} #`))).toHaveLength(50);
      }
    });

    it('says so when the addon was not built (no C compiler at install), and UDP still works', async () => {
      // The compiled package, laid out as in dist/ but without native/build beside it.
      const root = tempDir('fgo-no-addon-');
      cpSync(fileURLToPath(new URL('../dist/src/', import.meta.url)), join(root, 'dist', 'src'), { recursive: true });
      const copy = join(root, 'dist', 'src', 'destinations', 'channels', 'syslog');
      const udp = closeLater(await udpPeer());
      const script = `
        import { SyslogChannel } from ${JSON.stringify(join(copy, 'syslog.js'))};
        const alert = { time: undefined, priority: 3, sourceDeprecated: 0, rule: 'r', output: '', outputFields: {}, hostname: 'h', tags: [], source: 's' };
        const signal = new AbortController().signal;
        const unix = new SyslogChannel({ address: 'unix:///dev/log' }, { attempts: 1 });
        const udp = new SyslogChannel({ address: 'udp://127.0.0.1:${udp.port}' });
        console.log(JSON.stringify([await unix.deliver([{ alert, line: 'a' }], signal), await udp.deliver([{ alert, line: 'b' }], signal)]));
        await unix.close();
        await udp.close();`;
      const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
      expect(child.stderr).toBe('');
      const [unixReport, udpReport] = JSON.parse(child.stdout) as DeliveryReport[];
      expect(unixReport).toMatchObject({ delivered: 0, failed: 1 });
      expect(unixReport!.error).toBe(
        `syslog unix:///dev/log: unix datagram sockets are unavailable: ${join(root, 'native', 'build', 'Release', 'unix_dgram.node')} ` +
          'is missing: native/unix_dgram.c is built at install and needs a C compiler; use udp:// or tcp:// after 1 attempt',
      );
      expect(udpReport).toEqual({ delivered: 1, failed: 0 });
      expect((await udp.inbox.waitFor(1))[0]!.toString()).toMatch(/^<11>1 .* - - b$/);
    });

    it('cuts a message beyond 64 KiB with a marker', async () => {
      const path = join(dir, 'log-big');
      const peer = closeLater(await unixDgramPeer(path));
      const channel = closeLater(new SyslogChannel({ address: `unix://${path}` }));
      expect(await channel.deliver([{ alert: alert(2), line: 'y'.repeat(100_000) }], never)).toEqual({ delivered: 1, failed: 0 });
      const [datagram] = await peer.inbox.waitFor(1);
      expect(datagram!.length).toBe(65_536);
      expect(datagram!.toString().endsWith(`yyy${TRUNCATION_MARKER}`)).toBe(true);
    });

    it('fails every item when the socket path does not exist, naming it, without throwing', async () => {
      const path = join(dir, 'missing', 'log');
      const channel = closeLater(new SyslogChannel({ address: `unix://${path}` }, FAST));
      expect(await channel.deliver(items(25), never)).toEqual({
        delivered: 0,
        failed: 25,
        error: `syslog unix://${path}: ENOENT (no such file or directory) after 2 attempts`,
      });
    });

    it('fails the rest of a batch when the receiver stops reading and its queue stays full, is refused once it is gone', async () => {
      const path = join(dir, 'log-stall');
      const stalled = await unixDgramPeer(path, 'stall');
      const channel = closeLater(new SyslogChannel({ address: `unix://${path}` }, FAST));
      const report = await channel.deliver(items(200), never);
      expectWhole(report, 200);
      expect(report.delivered).toBeLessThan(200); // the kernel queues only a few datagrams (net.unix.max_dgram_qlen)
      expect(report.error).toBe(`syslog unix://${path}: the receiver took no message (its queue is full) within 500 ms after 2 attempts`);
      await stalled.close();
      // The receiver is gone and its socket file left behind: refused.
      expect(await channel.deliver(items(5), never)).toEqual({
        delivered: 0,
        failed: 5,
        error: `syslog unix://${path}: ECONNREFUSED (connection refused) after 2 attempts`,
      });
      const peer = closeLater(await unixDgramPeer(join(dir, 'log-stall-2')));
      const next = closeLater(new SyslogChannel({ address: `unix://${join(dir, 'log-stall-2')}` }));
      expect(await next.deliver(items(30), never)).toEqual({ delivered: 30, failed: 0 });
      expect(await peer.inbox.waitFor(30)).toHaveLength(30);
    });
  });

  it('rejects bad options with a clear error', () => {
    expect(() => new SyslogChannel({ address: 'ftp://host:514' })).toThrow('syslog address "ftp://host:514" has an unknown scheme "ftp:"');
    expect(() => new SyslogChannel({ address: 'udp://' })).toThrow('syslog address "udp://" must be udp://host:port and nothing more');
    expect(() => new SyslogChannel({ address: 'unix://' })).toThrow('needs an absolute socket path');
    expect(() => new SyslogChannel({ address: 'dev/log' })).toThrow('is not a URL');
    expect(() => new SyslogChannel({ facility: 'bogus' })).toThrow('syslog facility "bogus" is unknown; use one of kern, user,');
    expect(() => new SyslogChannel({ appName: 'my app' })).toThrow('syslog appName "my app" must be');
    expect(() => new SyslogChannel({ format: 'rfc1234' as 'rfc5424' })).toThrow('syslog format "rfc1234" is unknown');
  });

  it('fails every item after close(), and close() is idempotent', async () => {
    const peer = closeLater(await udpPeer());
    const channel = new SyslogChannel({ address: `udp://127.0.0.1:${peer.port}` });
    expect(await channel.deliver(items(2), never)).toEqual({ delivered: 2, failed: 0 });
    await channel.close();
    await channel.close();
    expect(await channel.deliver(items(3), never)).toEqual({
      delivered: 0,
      failed: 3,
      error: `syslog udp://127.0.0.1:${peer.port}: the channel is closed`,
    });
  });
});

const ok = () => ({ status: 200 });
const HTTP_FAST = { backoff: { baseMs: 5, capMs: 20 }, retryAfterCapMs: 5000 };

function bodiesOf(requests: ReceivedRequest[]): string[] {
  return requests.map((r) => r.body).sort();
}

describe('http channel', () => {
  it('POSTs every alert on its own: body = line, JSON or text content type, Falco user agent', async () => {
    const peer = closeLater(await httpPeer(ok));
    const channel = closeLater(new HttpChannel({ url: peer.url }));
    const batch = items(40);
    batch[3] = { alert: alert(3), line: '08:26:40.123: Error text output, not JSON ✓' };
    expect(await channel.deliver(batch, never)).toEqual({ delivered: 40, failed: 0 });
    const requests = peer.requests.items;
    expect(requests).toHaveLength(40);
    expect(bodiesOf(requests)).toEqual(batch.map((b) => b.line).sort());
    for (const r of requests) {
      expect(r.method).toBe('POST');
      expect(r.url).toBe('/alerts');
      expect(r.headers['user-agent']).toBe('falcosecurity/falco');
      expect(r.headers['content-type']).toBe(r.body.startsWith('{') ? 'application/json' : 'text/plain');
      expect(Number(r.headers['content-length'])).toBe(Buffer.byteLength(r.body));
    }
    expect(requests.filter((r) => r.headers['content-type'] === 'text/plain')).toHaveLength(1);
  });

  it('sends the configured User-Agent', async () => {
    const peer = closeLater(await httpPeer(ok));
    const channel = closeLater(new HttpChannel({ url: peer.url, userAgent: 'my-agent/1.0' }));
    expect(await channel.deliver(items(1), never)).toEqual({ delivered: 1, failed: 0 });
    expect(peer.requests.items[0]!.headers['user-agent']).toBe('my-agent/1.0');
  });

  it('retries a 500 answered twice, then delivers', async () => {
    const seen = new Map<string, number>();
    const peer = closeLater(
      await httpPeer((r) => {
        const n = (seen.get(r.body) ?? 0) + 1;
        seen.set(r.body, n);
        return n <= 2 ? { status: 500, body: 'try later' } : { status: 200 };
      }),
    );
    const channel = closeLater(new HttpChannel({ url: peer.url }, HTTP_FAST));
    expect(await channel.deliver(items(10), never)).toEqual({ delivered: 10, failed: 0 });
    expect(peer.requests.items).toHaveLength(30);
    expect([...seen.values()]).toEqual(Array(10).fill(3));
  });

  it('honours Retry-After on a 429 (the retry comes no sooner), and caps a long one', async () => {
    const arrivals: number[] = [];
    const peer = closeLater(
      await httpPeer((_, i) => {
        arrivals.push(Date.now());
        return i === 0 ? { status: 429, headers: { 'Retry-After': '1' } } : i === 2 ? { status: 429, headers: { 'Retry-After': '3600' } } : { status: 200 };
      }),
    );
    const channel = closeLater(new HttpChannel({ url: peer.url, maxConcurrency: 1 }, { ...HTTP_FAST, retryAfterCapMs: 1000 }));
    expect(await channel.deliver(items(2), never)).toEqual({ delivered: 2, failed: 0 });
    expect(peer.requests.items).toHaveLength(4);
    // A lower bound only: without Retry-After the backoff here is at most 20 ms.
    expect(arrivals[1]! - arrivals[0]!).toBeGreaterThanOrEqual(950);
  });

  it('fails a 400 at once, without retrying, and counts it; the other alerts go through', async () => {
    const peer = closeLater(await httpPeer((r) => (r.body.includes('reject me') ? { status: 400, body: 'bad alert\n' } : { status: 200 })));
    const channel = closeLater(new HttpChannel({ url: peer.url, maxConcurrency: 1 }, HTTP_FAST));
    const batch = items(6);
    batch[2] = { alert: alert(3), line: 'reject me' };
    expect(await channel.deliver(batch, never)).toEqual({
      delivered: 5,
      failed: 1,
      error: `POST ${peer.url}: 400 Bad Request (bad alert) after 1 attempt (not retried: the receiver refused the alert)`,
    });
    expect(peer.requests.items).toHaveLength(6);
  });

  it('times out on a server that never answers, retries, fails, and resolves', async () => {
    const peer = closeLater(await httpPeer(() => null));
    const channel = closeLater(new HttpChannel({ url: peer.url, timeoutMs: 300, maxAttempts: 3, maxConcurrency: 2 }, HTTP_FAST));
    const report = await channel.deliver(items(5), never);
    expect(report).toEqual({ delivered: 0, failed: 5, error: `POST ${peer.url}: no response within 300 ms after 3 attempts` });
    // Two alerts in flight used their three attempts; the three not yet started failed without a try.
    expect(peer.requests.items).toHaveLength(6);
  });

  it('fails on connection refused after maxAttempts, naming method, URL, code and attempts', async () => {
    const port = await unusedPort('tcp');
    const url = `http://127.0.0.1:${port}/alerts`;
    const channel = closeLater(new HttpChannel({ url, maxAttempts: 4 }, HTTP_FAST));
    const report = await channel.deliver(items(100), never);
    expect(report).toMatchObject({ delivered: 0, failed: 100 });
    expect(report.error).toBe(`POST ${url}: connect ECONNREFUSED 127.0.0.1:${port} after 4 attempts`);
  });

  it('stops a hanging request and its retries when the signal aborts', async () => {
    const abort = new AbortController();
    const peer = closeLater(
      await httpPeer(() => {
        abort.abort();
        return null;
      }),
    );
    const channel = closeLater(new HttpChannel({ url: peer.url, maxConcurrency: 1, timeoutMs: 60_000 }, HTTP_FAST));
    const report = await channel.deliver(items(4), abort.signal);
    expect(report.delivered).toBe(0);
    expect(report.failed).toBe(4);
    expect(report.error).toMatch(/aborted \(the output is closing\)/);
    expect(peer.requests.items).toHaveLength(1);
  });

  it('never has more than maxConcurrency requests in flight, and uses them all', async () => {
    // The server holds requests until three are in flight, then answers those three.
    let held: Array<() => void> = [];
    const peer = closeLater(
      await httpPeer(
        () =>
          new Promise((resolve) => {
            held.push(() => resolve({ status: 204 }));
            if (held.length === 3) {
              const release = held;
              held = [];
              release.forEach((r) => r());
            }
          }),
      ),
    );
    const channel = closeLater(new HttpChannel({ url: peer.url, maxConcurrency: 3 }));
    expect(await channel.deliver(items(30), never)).toEqual({ delivered: 30, failed: 0 });
    expect(peer.maxInFlight).toBe(3);
  });

  describe('over HTTPS', () => {
    let pkiDir: string;
    beforeAll(() => {
      pkiDir = writePki();
    });

    it('verifies the server with caCert, or with a caPath directory of PEMs', async () => {
      const peer = closeLater(await httpPeer(ok, serverTls()));
      const byFile = closeLater(new HttpChannel({ url: peer.url, caCert: join(pkiDir, 'ca.crt') }));
      expect(await byFile.deliver(items(3), never)).toEqual({ delivered: 3, failed: 0 });
      const caDir = tempDir('fgo-capath-');
      writeFileSync(join(caDir, 'README'), 'not a certificate');
      writeFileSync(join(caDir, 'dev-ca.pem'), testPki().caCert);
      mkdirSync(join(caDir, 'subdir'));
      const byDir = closeLater(new HttpChannel({ url: peer.url, caPath: caDir }));
      expect(await byDir.deliver(items(3), never)).toEqual({ delivered: 3, failed: 0 });
      expect(peer.requests.items).toHaveLength(6);
    });

    it('fails at once, without retries, when the server certificate cannot be verified; insecure skips the check', async () => {
      const peer = closeLater(await httpPeer(ok, serverTls()));
      const untrusting = closeLater(new HttpChannel({ url: peer.url }, HTTP_FAST));
      const report = await untrusting.deliver(items(3), never);
      expect(report).toMatchObject({ delivered: 0, failed: 3 });
      expect(report.error).toBe(`POST ${peer.url}: SELF_SIGNED_CERT_IN_CHAIN (self-signed certificate in certificate chain) after 1 attempt (not retried: the server's certificate is not trusted; set caCert or caPath)`);
      expect(peer.requests.items).toHaveLength(0);
      const insecure = closeLater(new HttpChannel({ url: peer.url, insecure: true }));
      expect(await insecure.deliver(items(3), never)).toEqual({ delivered: 3, failed: 0 });
    });

    it('presents the client certificate with mtls; without it, or with a stranger one, fails with a clear error', async () => {
      const peer = closeLater(await httpPeer(ok, { ...serverTls(), requestCert: true, rejectUnauthorized: true }));
      const caCert = join(pkiDir, 'ca.crt');
      const mtls = closeLater(
        new HttpChannel({ url: peer.url, caCert, mtls: true, clientCert: join(pkiDir, 'client.crt'), clientKey: join(pkiDir, 'client.key') }),
      );
      expect(await mtls.deliver(items(4), never)).toEqual({ delivered: 4, failed: 0 });

      const without = closeLater(new HttpChannel({ url: peer.url, caCert, maxAttempts: 2 }, HTTP_FAST));
      const noCert = await without.deliver(items(2), never);
      expect(noCert).toMatchObject({ delivered: 0, failed: 2 });
      expect(noCert.error).toBe(
        `POST ${peer.url}: ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED (tlsv13 alert certificate required) after 1 attempt ` +
          '(not retried: the server requires a client certificate; set mtls, clientCert and clientKey)',
      );

      const stranger = createDevPki({ name: 'stranger' });
      const wrong = closeLater(
        new HttpChannel({ url: peer.url, caCert, mtls: true, clientCert: stranger.clientCert, clientKey: stranger.clientKey, maxAttempts: 2 }, HTTP_FAST),
      );
      const wrongCert = await wrong.deliver(items(2), never);
      expect(wrongCert).toMatchObject({ delivered: 0, failed: 2 });
      // Node's TLS server refuses the certificate after the TLS 1.3 handshake by closing the connection.
      expect(wrongCert.error).toMatch(
        new RegExp(`^POST ${peer.url}: (ECONNRESET|EPIPE) .*; a server that refuses the client certificate closes the connection like this after 2 attempts$`),
      );
      expect(peer.requests.items).toHaveLength(4);
    });
  });

  it('rejects bad options with a clear error', () => {
    expect(() => new HttpChannel({ url: 'ftp://x/' })).toThrow('http url "ftp://x/" must start with http:// or https://');
    expect(() => new HttpChannel({ url: 'nope' })).toThrow('http url "nope" is not a URL');
    expect(() => new HttpChannel({ url: 'http://x/', maxConcurrency: 0 })).toThrow('http maxConcurrency must be a positive integer, not 0');
    expect(() => new HttpChannel({ url: 'https://x/', caCert: '/nonexistent/ca.crt' })).toThrow('cannot read http caCert from /nonexistent/ca.crt');
    expect(() => new HttpChannel({ url: 'https://x/', caPath: tempDir('fgo-empty-') })).toThrow('holds no PEM certificate');
    expect(() => new HttpChannel({ url: 'https://x/', mtls: true, clientCert: '/nonexistent/c.crt', clientKey: '/nonexistent/c.key' })).toThrow(
      'cannot read http clientCert from /nonexistent/c.crt',
    );
    expect(() => new HttpChannel({ url: 'http://x/', userAgent: 'bad\nagent' })).toThrow('is not a valid header value');
  });

  it('keeps credentials and the query out of its errors, and fails every item after close()', async () => {
    const port = await unusedPort('tcp');
    const channel = new HttpChannel({ url: `http://user:secret@127.0.0.1:${port}/alerts?token=abc`, maxAttempts: 1 });
    const report = await channel.deliver(items(2), never);
    expect(report.error).toMatch(new RegExp(`^POST http://127.0.0.1:${port}/alerts: connect ECONNREFUSED`));
    await channel.close();
    await channel.close();
    expect(await channel.deliver(items(2), never)).toEqual({
      delivered: 0,
      failed: 2,
      error: `POST http://127.0.0.1:${port}/alerts: the channel is closed`,
    });
  });
});
