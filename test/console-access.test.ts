// Who may see the web console: `receive` child processes with real TLS (certificates made here)
// and real HTTP(S) requests. An open console on a non-loopback address is refused at start; with
// TLS and a token, every request without it gets 401; with client certificates, a browser without
// one never completes the handshake; an open loopback console refuses foreign Host names.

import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium } from '../scripts/chromium.mjs';
import { CLI } from './helpers/harness.js';
import { get, openConsole, startConsoleReceiver, startSender, type ConsoleReceiver } from './helpers/console.js';
import { tempDir, testPki, writePki } from './helpers/pki.js';

const LINES = readFileSync(fileURLToPath(new URL('./fixtures/falco-alerts.jsonl', import.meta.url)), 'utf8').trim().split('\n');
const TOKEN = 'c0ffee-0123456789abcdef-console';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

let pkiDir: string;
beforeAll(() => {
  pkiDir = writePki();
});

function tlsArgs(): string[] {
  return ['--tls-ca', join(pkiDir, 'ca.crt'), '--tls-cert', join(pkiDir, 'server.crt'), '--tls-key', join(pkiDir, 'server.key')];
}

function tokenFile(token = TOKEN): string {
  const file = join(tempDir('fgo-token-'), 'token');
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return file;
}

/** Runs `receive` expecting it to refuse: resolves with its exit code and stderr. */
function refused(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [CLI, 'receive', '--discard', ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  cleanups.push(() => child.kill('SIGKILL'));
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stderr })));
}

/** The console's URL reached through loopback (it listens on 0.0.0.0). */
function viaLoopback(receiver: ConsoleReceiver, path = '/'): string {
  const u = new URL(receiver.url);
  return `${u.protocol}//127.0.0.1:${u.port}${path}`;
}

describe('web console access', () => {
  it('refuses, before anything listens, a non-loopback console without TLS and a token or client certificates', async () => {
    const dir = tempDir('fgo-console-refuse-');
    const sock = join(dir, 'never.sock');
    const unix = ['--listen', `unix://${sock}`];
    const config = join(dir, 'falco.yaml');
    writeFileSync(config, 'falco_grpc_output:\n  receive:\n    ui_listen: "0.0.0.0:0"\n');
    const cases: Array<[args: string[], env: Record<string, string>, says: RegExp[]]> = [
      [[...unix, '--ui-listen', '0.0.0.0:0'], {}, [/--ui-listen 0\.0\.0\.0:0: 0\.0\.0\.0 is not a loopback address/, /without TLS .* and a token \(--ui-token-file\) or client certificates/]],
      [[...unix, '--ui-listen', '0.0.0.0:0', '--ui-token-file', tokenFile()], {}, [/without TLS \(the receiver's --tls-cert/]],
      [['--listen', '127.0.0.1:0', ...tlsArgs(), '--ui-listen', '0.0.0.0:0'], {}, [/refusing to serve it without a token \(--ui-token-file\) or client certificates/]],
      [[...unix, '--ui-listen', '[::]:0'], {}, [/:: is not a loopback address/]],
      [[...unix], { FALCO_GRPC_OUTPUT_UI_LISTEN: '0.0.0.0:0' }, [/0\.0\.0\.0 is not a loopback address/]],
      [[...unix, '--config', config], {}, [/0\.0\.0\.0 is not a loopback address/]],
      [[...unix, '--ui-listen', '127.0.0.1:0', '--ui-client-certs'], {}, [/client certificates need the receiver's TLS files/]],
      [[...unix, '--ui-token-file', tokenFile()], {}, [/--ui-token-file is for the web console: give --ui-listen/]],
      [[...unix, '--ui-listen', '127.0.0.1:0', '--ui-token-file', tokenFile('short')], {}, [/has 5 characters; it needs at least 16/]],
    ];
    for (const [args, env, says] of cases) {
      const { code, stderr } = await refused(args, env);
      expect(code, stderr).toBe(2);
      for (const pattern of says) expect(stderr).toMatch(pattern);
      expect(stderr).not.toMatch(/listening on|console on/);
      expect(existsSync(sock)).toBe(false);
    }
    // A malformed address is a usage error, as for every other flag.
    const malformed = await refused([...unix, '--ui-listen', 'localhost:http']);
    expect(malformed.code).toBe(1);
    expect(malformed.stderr).toMatch(/--ui-listen <addr>' argument 'localhost:http' is invalid\. expected PORT, HOST:PORT/);
  });

  it('with TLS and a token off loopback: 401 without the token, the page once it is given, HTTPS only', async () => {
    const dir = tempDir('fgo-console-token-');
    const sock = `unix://${join(dir, 'r.sock')}`;
    const receiver = await startConsoleReceiver(['--listen', `127.0.0.1:0,${sock}`, ...tlsArgs(), '--ui-listen', '0.0.0.0:0', '--ui-token-file', tokenFile()]);
    cleanups.push(() => receiver.child.kill('SIGKILL'));
    expect(receiver.url).toMatch(/^https:\/\/0\.0\.0\.0:\d+\/$/);
    const tls = { ca: testPki().caCert };

    for (const path of ['/', '/app.js', '/api/state', '/api/history', '/api/events', '/vendor/uPlot.iife.min.js', '/nowhere']) {
      const none = await get(viaLoopback(receiver, path), { tls });
      expect(none.status, path).toBe(401);
      expect(none.headers['www-authenticate']).toBe('Bearer realm="falco-grpc-output console"');
      expect(none.body).toMatch(/unauthorized: open the console as \/\?token=/);
      const wrong = await get(viaLoopback(receiver, path), { tls, headers: { Authorization: `Bearer ${TOKEN}x` } });
      expect(wrong.status, path).toBe(401);
      const wrongCookie = await get(viaLoopback(receiver, path), { tls, headers: { Cookie: `fgo_console_token=${TOKEN.slice(1)}` } });
      expect(wrongCookie.status, path).toBe(401);
    }
    const bearer = await get(viaLoopback(receiver, '/api/state'), { tls, headers: { Authorization: `Bearer ${TOKEN}` } });
    expect(bearer.status).toBe(200);
    expect((JSON.parse(bearer.body) as { stats: { accepted: number } }).stats.accepted).toBe(0);

    // The token in the address: traded for a cookie, and the address cleaned.
    const first = await get(viaLoopback(receiver, `/?token=${TOKEN}`), { tls });
    expect(first.status).toBe(303);
    expect(first.headers.location).toBe('/');
    expect(first.headers['set-cookie']).toEqual([`fgo_console_token=${TOKEN}; HttpOnly; SameSite=Strict; Path=/; Secure`]);
    const page = await get(viaLoopback(receiver), { tls, headers: { Cookie: `fgo_console_token=${TOKEN}` } });
    expect(page.status).toBe(200);
    expect(page.headers['content-security-policy']).toMatch(/script-src 'self'/);
    expect(page.body).toMatch(/<title>falco-grpc-output/);
    const post = await get(viaLoopback(receiver, '/api/state'), { tls, method: 'POST', headers: { Authorization: `Bearer ${TOKEN}` } });
    expect(post.status).toBe(405); // read-only
    // Plain HTTP to the console's port gets no page.
    const plain = await get(viaLoopback(receiver).replace('https:', 'http:')).catch((err: Error) => ({ status: 0, body: err.message, headers: {} }));
    expect(plain.status === 0 || plain.status === 400).toBe(true);

    // A real browser: the token once in the URL, then the cookie carries the page's own requests (the event stream too).
    const browser = await launchChromium({ ignoreHTTPSErrors: true });
    cleanups.push(() => browser.close());
    const { page: tab, errors } = await openConsole(browser.context, viaLoopback(receiver, `/?token=${TOKEN}`));
    expect(new URL(tab.url()).search).toBe('');
    const sender = startSender(sock);
    cleanups.push(() => sender.child.kill('SIGKILL'));
    sender.write(LINES.slice(0, 20));
    expect(await sender.finish()).toBe(0);
    await tab.waitForFunction(() => document.querySelectorAll('#alerts .alert').length === 20);
    expect(errors).toEqual([]);
    // Without the cookie, the page is refused.
    await browser.context.clearCookies();
    const denied = await browser.context.newPage();
    cleanups.push(() => denied.close());
    const response = await denied.goto(viaLoopback(receiver));
    expect(response?.status()).toBe(401);
  });

  it('with client certificates: no certificate, no console; the test CA\'s client certificate gets the page', async () => {
    const receiver = await startConsoleReceiver(['--listen', '127.0.0.1:0', ...tlsArgs(), '--ui-listen', '0.0.0.0:0', '--ui-client-certs']);
    cleanups.push(() => receiver.child.kill('SIGKILL'));
    const pki = testPki();
    await expect(get(viaLoopback(receiver, '/api/state'), { tls: { ca: pki.caCert } })).rejects.toThrow(/certificate|socket hang up|ECONNRESET|alert/i);
    const ok = await get(viaLoopback(receiver, '/api/state'), { tls: { ca: pki.caCert, cert: pki.clientCert, key: pki.clientKey } });
    expect(ok.status).toBe(200);
    // A certificate from another CA is refused as well.
    const other = (await import('../dist/src/index.js')).createDevPki();
    await expect(get(viaLoopback(receiver, '/api/state'), { tls: { ca: pki.caCert, cert: other.clientCert, key: other.clientKey } })).rejects.toThrow();
  });

  it('an open loopback console answers only to loopback Host names (no DNS rebinding)', async () => {
    const dir = tempDir('fgo-console-host-');
    const receiver = await startConsoleReceiver(['--listen', `unix://${join(dir, 'r.sock')}`, '--ui-listen', '0']);
    cleanups.push(() => receiver.child.kill('SIGKILL'));
    expect(receiver.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/); // a bare port is loopback
    const port = new URL(receiver.url).port;
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, 'localhost']) {
      expect((await get(receiver.url, { headers: { Host: host } })).status, host).toBe(200);
    }
    for (const host of [`attacker.example:${port}`, `192.0.2.7:${port}`, `127.0.0.1.attacker.example:${port}`]) {
      const answer = await get(`${receiver.url}api/state`, { headers: { Host: host } });
      expect(answer.status, host).toBe(403);
      expect(answer.body).toMatch(/is not this machine/);
    }
  });
});
