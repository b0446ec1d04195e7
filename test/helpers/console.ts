// Pieces of the web console tests: a `receive --ui-listen` child process, `send` fed on stdin,
// a Chromium page that records every console error, and plain HTTP(S) requests with the
// test's own certificates.

import { spawn, type ChildProcess } from 'node:child_process';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { BrowserContext, Page } from 'playwright-core';
import { CLI, startReceiverProcess, waitFor, type ReceiverProcess } from './harness.js';

export interface ConsoleReceiver extends ReceiverProcess {
  /** The URL the receiver printed for its console. */
  url: string;
}

export async function startConsoleReceiver(args: string[]): Promise<ConsoleReceiver> {
  const r = await startReceiverProcess(['--discard', ...args]);
  const m = /console on (\S+)/.exec(r.stderr());
  if (!m) throw new Error(`receiver printed no console URL: ${r.stderr()}`);
  return { ...r, url: m[1]! };
}

export interface Sender {
  child: ChildProcess;
  stderr: () => string;
  /** Writes lines to send's stdin (it stays open: the producer stays connected). */
  write(lines: readonly string[]): void;
  /** Ends stdin and resolves with send's exit code once it has flushed. */
  finish(): Promise<number | null>;
}

/** `send --target` reading Falco JSON lines from its stdin. */
export function startSender(target: string, extra: string[] = []): Sender {
  const child = spawn(process.execPath, [CLI, 'send', '--target', target, ...extra], { stdio: ['pipe', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    stderr: () => err,
    write: (lines) => void child.stdin!.write(`${lines.join('\n')}\n`),
    finish: () => {
      child.stdin!.end();
      return exited;
    },
  };
}

export interface WatchedPage {
  page: Page;
  /** console.error messages and uncaught exceptions, as text. */
  errors: string[];
}

export async function openConsole(context: BrowserContext, url: string): Promise<WatchedPage> {
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(`console.error: ${msg.text()}`);
  });
  page.on('pageerror', (err) => errors.push(`uncaught: ${err.message}`));
  await page.goto(url);
  await page.waitForSelector('#conn.live');
  return { page, errors };
}

/** Text of every cell in one column of the drawn alert rows, top to bottom. */
export function column(page: Page, cls: string): Promise<string[]> {
  return page.$$eval(`#alerts .alert > .row > .${cls}`, (cells) => cells.map((c) => c.textContent ?? ''));
}

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One request, GET unless told (https when the URL says so, trusting `tls.ca`, presenting tls.cert/key if given); SSE streams are read for `readMs`. */
export function get(url: string, opts: { method?: string; headers?: Record<string, string>; tls?: { ca: string; cert?: string; key?: string }; readMs?: number } = {}): Promise<Answer> {
  const u = new URL(url);
  const request = u.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(u, { method: opts.method ?? 'GET', headers: opts.headers, ...(opts.tls ?? {}) }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      const done = (): void => resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
      res.on('end', done);
      if (opts.readMs !== undefined) setTimeout(() => (req.destroy(), done()), opts.readMs);
    });
    req.on('error', reject);
    req.end();
  });
}

export { waitFor };
