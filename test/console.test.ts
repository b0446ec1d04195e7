// The web console in a real browser (Debian's headless Chromium): a `receive --ui-listen` child
// process, `send` carrying the sample alerts into it, and the page watched as a person would:
// rows, filters, the opened alert, the producer table, reconnecting after a restart, and alert
// text that tries to be markup.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium } from '../scripts/chromium.mjs';
import { column, openConsole, startConsoleReceiver, startSender } from './helpers/console.js';
import { tempDir } from './helpers/pki.js';

interface FixtureAlert {
  rule: string;
  priority: string;
  hostname: string;
  source: string;
  time: string;
  output: string;
  tags: string[];
  output_fields: Record<string, unknown>;
}

/** What the free-text filter searches, lower case: every field and output_fields key=value. */
function searchable(a: FixtureAlert): string {
  const fields = Object.entries(a.output_fields).map(([k, v]) => `${k}=${v === null ? '<NA>' : String(v)}`);
  return [a.output, a.rule, a.hostname, a.source, a.tags.join(' '), ...fields].join('\n').toLowerCase();
}

const LINES = readFileSync(fileURLToPath(new URL('./fixtures/falco-alerts.jsonl', import.meta.url)), 'utf8').trim().split('\n');
const ALERTS = LINES.map((l) => JSON.parse(l) as FixtureAlert);
const PRIORITIES = ['Emergency', 'Alert', 'Critical', 'Error', 'Warning', 'Notice', 'Informational', 'Debug'];
/** The page draws at most this many rows (app.js ROWS). */
const ROWS = 300;

let browser: Awaited<ReturnType<typeof launchChromium>>;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('web console in Chromium', () => {
  it('shows the sample alerts live, newest first; filters narrow them; an opened alert shows its output_fields; the producer is listed; no console error', async () => {
    const dir = tempDir('fgo-console-');
    const receiver = await startConsoleReceiver(['--listen', `unix://${join(dir, 'r.sock')}`, '--ui-listen', '127.0.0.1:0']);
    cleanups.push(() => receiver.child.kill('SIGKILL'));
    const { page, errors } = await openConsole(browser.context, receiver.url);
    cleanups.push(() => page.close());
    expect(await page.textContent('#empty')).toMatch(/No alerts yet/);

    const sender = startSender(receiver.addresses[0]!);
    cleanups.push(() => sender.child.kill('SIGKILL'));
    sender.write(LINES);
    await page.waitForFunction(() => document.getElementById('shown')?.textContent?.includes('of 1,000 kept'), null, { timeout: 60_000 });
    // A burst draws its newest rows and marks the rest; paused, the page draws every kept alert (up to ROWS) in order.
    await page.click('#pause');
    await page.waitForFunction(() => document.getElementById('pause')?.textContent === 'Resume (0 new)');
    expect(await page.$$eval('#alerts .gap', (g) => g.length)).toBe(0);

    // Newest first, capped at ROWS, each field as sent, time to the nanosecond.
    const rules = await column(page, 'rule');
    expect(rules).toHaveLength(ROWS);
    const newestFirst = ALERTS.slice(-ROWS).reverse();
    expect(rules).toEqual(newestFirst.map((a) => a.rule));
    expect(await column(page, 'host')).toEqual(newestFirst.map((a) => a.hostname));
    expect(await column(page, 'src')).toEqual(newestFirst.map((a) => a.source));
    expect(await column(page, 'out')).toEqual(newestFirst.map((a) => a.output));
    expect(await column(page, 'tags')).toEqual(newestFirst.map((a) => a.tags.join('')));
    expect((await column(page, 'time'))[0]).toBe(`11-27${ALERTS.at(-1)!.time.slice(11, -1)}`);
    const badges = await page.$$eval('#alerts .alert .prio', (els) => els.map((e) => [e.textContent, e.className]));
    expect(badges[0]).toEqual([ALERTS.at(-1)!.priority, `prio p${PRIORITIES.indexOf(ALERTS.at(-1)!.priority)}`]);

    // Minimum priority Critical: exactly the Emergency, Alert and Critical alerts (fewer than ROWS), newest first.
    await page.selectOption('#f-priority', '2');
    const severe = ALERTS.filter((a) => PRIORITIES.indexOf(a.priority) <= 2).reverse();
    expect(severe.length).toBeLessThan(ROWS);
    await page.waitForFunction((n) => document.querySelectorAll('#alerts .alert').length === n, severe.length);
    expect(await column(page, 'rule')).toEqual(severe.map((a) => a.rule));

    // ... and hostname edge-gw, then free text that only some of those outputs contain.
    await page.fill('#f-host', 'edge-gw');
    const severeEdge = severe.filter((a) => a.hostname.includes('edge-gw'));
    await page.waitForFunction((n) => document.querySelectorAll('#alerts .alert').length === n, severeEdge.length);
    expect(await column(page, 'host')).toEqual(severeEdge.map(() => 'edge-gw'));
    await page.fill('#f-text', '/ETC/shadow');
    const withText = severeEdge.filter((a) => searchable(a).includes('/etc/shadow'));
    expect(withText.length).toBeGreaterThan(0);
    expect(withText.length).toBeLessThan(severeEdge.length);
    await page.waitForFunction((n) => document.querySelectorAll('#alerts .alert').length === n, withText.length);

    // Tag and source filters, then back to everything.
    await page.fill('#f-host', '');
    await page.fill('#f-text', '');
    await page.selectOption('#f-priority', '7');
    await page.fill('#f-source', 'k8s_audit');
    await page.fill('#f-tag', 'mitre_privilege');
    const tagged = ALERTS.filter((a) => a.source === 'k8s_audit' && a.tags.some((t) => t.includes('mitre_privilege'))).reverse();
    await page.waitForFunction((n) => document.querySelectorAll('#alerts .alert').length === n, tagged.length);
    expect(await column(page, 'rule')).toEqual(tagged.map((a) => a.rule));
    await page.fill('#f-source', '');
    await page.fill('#f-tag', '');
    await page.waitForFunction((n) => document.querySelectorAll('#alerts .alert').length === n, ROWS);

    // Rule: a part of a name, any case, matches every rule that holds it.
    await page.fill('#f-rule', 'POD');
    const pods = ALERTS.filter((a) => a.rule.toLowerCase().includes('pod')).reverse();
    expect(pods.length).toBeGreaterThan(1);
    expect(new Set(pods.map((a) => a.rule)).size).toBeGreaterThan(1);
    await page.waitForFunction((n) => document.querySelectorAll('#alerts .alert').length === n, pods.length);
    expect(await column(page, 'rule')).toEqual(pods.map((a) => a.rule));
    await page.fill('#f-rule', '');
    await page.waitForFunction((n) => document.querySelectorAll('#alerts .alert').length === n, ROWS);

    // Opening the newest alert lists its output_fields; a 64-bit evt.time stays exact.
    await page.locator('#alerts .alert > .row').first().click();
    await page.waitForSelector('.detail dl.fields');
    const fields = await page.$$eval('.detail dl.fields dt', (dts) => dts.map((dt) => [dt.textContent, dt.nextElementSibling?.textContent]));
    const newest = JSON.parse(LINES.at(-1)!.replace(/"evt.time":(\d+)/, '"evt.time":"$1"')) as { output_fields: Record<string, unknown> };
    expect(fields).toEqual(Object.entries(newest.output_fields).map(([k, v]) => [k, v === null ? '<NA>' : String(v)]));
    expect(fields.find(([k]) => k === 'evt.time')?.[1]).toMatch(/^\d{19}$/);

    // The producer, connected while send's stdin is open, then gone; counts and charts from the state.
    const producerRow = async (): Promise<string[]> => page.$$eval('#producers tbody tr:first-child td', (tds) => tds.map((td) => td.textContent ?? ''));
    await page.waitForFunction(() => document.querySelector('#producers tbody tr td:nth-child(5)')?.textContent === '1,000');
    let row = await producerRow();
    expect(row[2]).toMatch(/connected/);
    expect(row[3]).toBe('1,000'); // last sequence number handled
    expect(row.slice(5, 7)).toEqual(['0', '0']); // duplicates, missing
    expect(await page.$$eval('#producers tbody tr', (trs) => trs.length)).toBe(1);
    const byPriority = await page.$$eval('#by-priority .bar-row', (rs) => rs.map((r) => [r.querySelector('.bar-label')?.textContent, r.querySelector('.bar-count')?.textContent]));
    expect(byPriority).toEqual(PRIORITIES.map((p) => [p, ALERTS.filter((a) => a.priority === p).length.toLocaleString('en-US')]));
    const topRule = await page.textContent('#top-rules .bar-row .bar-label');
    const ruleCounts = new Map<string, number>();
    for (const a of ALERTS) ruleCounts.set(a.rule, (ruleCounts.get(a.rule) ?? 0) + 1);
    expect(ruleCounts.get(topRule!)).toBe(Math.max(...ruleCounts.values()));
    expect(await page.$$eval('#rate-chart canvas', (c) => c.length)).toBe(1);

    expect(await sender.finish()).toBe(0);
    await page.waitForFunction(() => document.querySelector('#producers tbody tr td:nth-child(3)')?.textContent?.includes('gone'));
    row = await producerRow();
    expect(row[4]).toBe('1,000');
    expect(errors).toEqual([]);
  });

  it('loads the `get` history first, then follows the receiver through a restart on the same addresses', async () => {
    const dir = tempDir('fgo-console-restart-');
    const sock = `unix://${join(dir, 'r.sock')}`;
    const ui = `127.0.0.1:${await freePort()}`;
    let receiver = await startConsoleReceiver(['--listen', sock, '--ui-listen', ui]);
    cleanups.push(() => receiver.child.kill('SIGKILL'));
    const before = startSender(sock);
    cleanups.push(() => before.child.kill('SIGKILL'));
    before.write(LINES.slice(0, 500));
    expect(await before.finish()).toBe(0);

    // Opened after the alerts arrived: they come from the history.
    const { page, errors } = await openConsole(browser.context, receiver.url);
    cleanups.push(() => page.close());
    await page.waitForFunction(() => document.getElementById('shown')?.textContent?.includes('of 500 kept'));
    expect((await column(page, 'rule'))[0]).toBe(ALERTS[499]!.rule);

    receiver.child.kill('SIGTERM');
    expect(await receiver.exited).toBe(0);
    await page.waitForSelector('#conn.reconnecting');
    receiver = await startConsoleReceiver(['--listen', sock, '--ui-listen', ui]);
    await page.waitForSelector('#conn.live', { timeout: 30_000 });
    expect(await page.textContent('#notice')).toMatch(/receiver restarted/);

    const after = startSender(sock);
    cleanups.push(() => after.child.kill('SIGKILL'));
    after.write(LINES.slice(500, 510));
    expect(await after.finish()).toBe(0);
    await page.waitForFunction(() => document.getElementById('shown')?.textContent?.includes('of 510 kept'));
    expect((await column(page, 'rule')).slice(0, 11)).toEqual(ALERTS.slice(499, 510).reverse().map((a) => a.rule));
    // While the receiver was down the browser logged its failed connections, and nothing else.
    expect(errors.filter((e) => !/ERR_CONNECTION_REFUSED/.test(e))).toEqual([]);
  });

  it('renders alert text as text: <script> and <img onerror> in output, rule, tags and output_fields run nothing', async () => {
    const dir = tempDir('fgo-console-xss-');
    const receiver = await startConsoleReceiver(['--listen', `unix://${join(dir, 'r.sock')}`, '--ui-listen', '127.0.0.1:0']);
    cleanups.push(() => receiver.child.kill('SIGKILL'));
    const { page, errors } = await openConsole(browser.context, receiver.url);
    cleanups.push(() => page.close());
    const attacks = {
      output: '<script>window.__pwned = "script"</script><img src=x onerror="window.__pwned = \'img\'">',
      rule: '<img src=x onerror="window.__pwned = \'rule\'">',
      hostname: '<svg onload="window.__pwned = \'host\'">',
      tags: ['<b onmouseover="window.__pwned = \'tag\'">tag</b>'],
      output_fields: { 'proc.cmdline': '<img src=x onerror="window.__pwned = \'field\'">', '<i>key</i>': '</dd><script>window.__pwned = "key"</script>' },
    };
    const sender = startSender(receiver.addresses[0]!);
    cleanups.push(() => sender.child.kill('SIGKILL'));
    sender.write([JSON.stringify({ ...attacks, priority: 'Critical', source: 'syscall', time: '2025-11-27T05:00:00.123456789Z' })]);
    expect(await sender.finish()).toBe(0);
    await page.waitForSelector('#alerts .alert');
    await page.locator('#alerts .alert > .row').first().click();
    await page.waitForSelector('.detail dl.fields');
    await page.hover('#alerts .alert .tag');

    expect(await column(page, 'out')).toEqual([attacks.output]);
    expect(await column(page, 'rule')).toEqual([attacks.rule]);
    expect(await column(page, 'host')).toEqual([attacks.hostname]);
    expect(await page.textContent('#alerts .tag')).toBe(attacks.tags[0]);
    const fields = await page.$$eval('.detail dl.fields dt', (dts) => dts.map((dt) => [dt.textContent, dt.nextElementSibling?.textContent]));
    expect(fields).toEqual(Object.entries(attacks.output_fields));
    // Nothing became an element, nothing ran.
    expect(await page.$$eval('#alerts img, #alerts script, #alerts svg, #alerts b, #alerts i', (els) => els.length)).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: string }).__pwned)).toBeUndefined();
    expect(errors).toEqual([]);
  });
});
