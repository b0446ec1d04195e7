// createConsole(): the receiver's web console. One page (shipped in the package, no build step),
// its two vendored chart files, a JSON state, the history, and a Server-Sent Events stream;
// HTTP on loopback, HTTPS with the receiver's certificates elsewhere. Read-only: GET and HEAD.

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { ReceiverView } from '../receiver/receiver.js';
import { loadTls, type TlsOptions } from '../tls/pem.js';
import { isLoopbackHostHeader, tokenMatches } from './access.js';
import { consoleAccessProblem, parseConsoleAddress, type ConsoleAddress } from '../config/console-address.js';
import { AlertFeed, FEED_DEFAULTS, type FeedOptions } from './feed.js';
import { consoleState, type ConsoleState } from './state.js';
import { LiveStream, STREAM_DEFAULTS, type StreamOptions, type StreamStats } from './stream.js';

export interface ConsoleOptions {
  /** `PORT` (loopback), `HOST:PORT` or `[v6]:PORT`; port 0 takes any free port. */
  listen: string;
  receiver: ReceiverView;
  /** The receiver's certificate and key (and CA, for client certificates). Required off loopback. */
  tls?: TlsOptions;
  /** Required of every request (cookie, `Authorization: Bearer`, or `?token=` once). */
  token?: string;
  /** Browsers must present a certificate chaining to tls.ca. */
  clientCerts?: boolean;
  /** The receiver's gRPC addresses, shown on the page. */
  addresses?: readonly string[];
  feed?: Partial<FeedOptions>;
  stream?: Partial<StreamOptions>;
}

export interface WebConsole {
  /** Listens; resolves with the page's URL (the port resolved). */
  start(): Promise<string>;
  /** Ends every page's stream and stops listening. Idempotent. */
  close(): Promise<void>;
  stream(): StreamStats;
}

const PAGE_DIR = fileURLToPath(new URL('../../../src/console/page/', import.meta.url));
const require = createRequire(import.meta.url);
const VERSION = (require('../../../package.json') as { version: string }).version;
const COOKIE = 'fgo_console_token';

/** Path → [file, content type]. The page's own files, and uPlot as npm installed it. */
const FILES: Record<string, [string, string]> = {
  '/': [`${PAGE_DIR}index.html`, 'text/html; charset=utf-8'],
  '/app.js': [`${PAGE_DIR}app.js`, 'text/javascript; charset=utf-8'],
  '/app.css': [`${PAGE_DIR}app.css`, 'text/css; charset=utf-8'],
  '/vendor/uPlot.iife.min.js': [require.resolve('uplot/dist/uPlot.iife.min.js'), 'text/javascript; charset=utf-8'],
  '/vendor/uPlot.min.css': [require.resolve('uplot/dist/uPlot.min.css'), 'text/css; charset=utf-8'],
};

/** Everything the page loads comes from here; no inline script runs, whatever an alert says. */
const SECURITY_HEADERS = {
  'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
};

class ConsoleServer implements WebConsole {
  private readonly address: ConsoleAddress;
  private readonly secure: boolean;
  private readonly feed: AlertFeed;
  private readonly live: LiveStream;
  private readonly instance = randomBytes(6).toString('hex');
  private readonly files = new Map<string, { body: Buffer; type: string }>();
  private server: Server | null = null;
  private closed: Promise<void> | null = null;
  private readonly startedAtMs = Date.now();

  constructor(private readonly opts: ConsoleOptions) {
    this.address = parseConsoleAddress(opts.listen);
    const problem = consoleAccessProblem(this.address, { tls: opts.tls !== undefined, token: opts.token !== undefined, clientCerts: opts.clientCerts === true }, `console ${opts.listen}`);
    if (problem) throw new Error(problem);
    this.secure = !this.address.loopback || opts.clientCerts === true;
    this.feed = new AlertFeed(opts.receiver, { ...FEED_DEFAULTS, ...opts.feed });
    this.live = new LiveStream(this.feed, this.instance, () => this.state(), { ...STREAM_DEFAULTS, ...opts.stream });
  }

  private state(): ConsoleState & { stream: StreamStats } {
    const state = consoleState({ view: this.opts.receiver, feed: this.feed, instance: this.instance, version: VERSION, startedAtMs: this.startedAtMs, addresses: this.opts.addresses ?? [] });
    return { ...state, stream: this.live.stats() };
  }

  async start(): Promise<string> {
    for (const [path, [file, type]] of Object.entries(FILES)) this.files.set(path, { body: readFileSync(file), type });
    const handler = (req: IncomingMessage, res: ServerResponse): void => this.answer(req, res);
    let server: Server;
    if (this.secure) {
      const tls = loadTls(this.opts.tls!);
      const clientCerts = this.opts.clientCerts === true;
      server = createHttpsServer({ key: tls.key, cert: tls.cert, ca: tls.ca, requestCert: clientCerts, rejectUnauthorized: clientCerts, minVersion: 'TLSv1.2' }, handler);
    } else {
      server = createHttpServer(handler);
    }
    const { host, port } = this.address;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new Error(`cannot serve the console on ${this.opts.listen}: ${err.message}`)));
      server.listen(port, host, resolve);
    });
    this.server = server;
    this.feed.attach();
    this.live.start();
    const bound = server.address();
    const boundPort = typeof bound === 'object' && bound !== null ? bound.port : port;
    return `${this.secure ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${boundPort}/`;
  }

  close(): Promise<void> {
    this.closed ??= (async () => {
      this.live.close();
      this.feed.detach();
      const server = this.server;
      if (!server) return;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    })();
    return this.closed;
  }

  stream(): StreamStats {
    return this.live.stats();
  }

  private answer(req: IncomingMessage, res: ServerResponse): void {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
    const url = new URL(req.url ?? '/', 'http://console.invalid');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return void res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' }).end(`method ${req.method ?? '?'} not allowed: the console is read-only\n`);
    }
    if (!this.allowed(req, res, url)) return;
    const path = url.pathname === '/index.html' ? '/' : url.pathname;
    const file = this.files.get(path);
    if (file) {
      res.writeHead(200, { 'Content-Type': file.type, 'Content-Length': file.body.length, 'Cache-Control': 'no-cache' });
      return void res.end(req.method === 'HEAD' ? undefined : file.body);
    }
    if (path === '/api/events') return this.live.open(res, url.searchParams.get('last') ?? header(req, 'last-event-id'));
    if (path === '/api/state') return json(res, this.state());
    if (path === '/api/history') {
      const after = Number(url.searchParams.get('after') ?? 0);
      const limit = Number(url.searchParams.get('limit') ?? STREAM_DEFAULTS.historyAlerts);
      if (!Number.isSafeInteger(after) || after < 0 || !Number.isSafeInteger(limit) || limit < 1) {
        return void res.writeHead(400, { 'Content-Type': 'text/plain' }).end('after must be a whole number >= 0 and limit one >= 1\n');
      }
      // Decoding runs on the receiver's event loop: one request decodes no more than a page gets.
      const items = this.feed.history(after, Math.min(limit, STREAM_DEFAULTS.historyAlerts));
      res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
      return void res.end(`{"through":${this.feed.total},"alerts":[${items.map((i) => i.json).join(',')}]}`);
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' }).end(`not found: ${url.pathname}\n`);
  }

  /** Answers 401/403 (or redirects a page that brought its token in the URL) and returns false, or returns true. */
  private allowed(req: IncomingMessage, res: ServerResponse, url: URL): boolean {
    const token = this.opts.token;
    if (token === undefined) {
      // Open only on loopback (client certificates were checked by TLS): refuse a page that reached it under another name.
      if (this.opts.clientCerts || isLoopbackHostHeader(req.headers.host)) return true;
      res.writeHead(403, { 'Content-Type': 'text/plain' }).end(`forbidden: Host ${JSON.stringify(req.headers.host ?? '')} is not this machine; open the console at a loopback address\n`);
      return false;
    }
    const bearer = /^Bearer\s+(\S+)$/i.exec(header(req, 'authorization') ?? '')?.[1];
    const fromQuery = url.searchParams.get('token') ?? undefined;
    if (tokenMatches(token, bearer) || tokenMatches(token, cookie(req, COOKIE))) return true;
    if (tokenMatches(token, fromQuery)) {
      if (url.pathname !== '/' && url.pathname !== '/index.html') return true;
      // The page: keep the token in a cookie the page's own requests carry, and out of the address bar and history.
      const attributes = `HttpOnly; SameSite=Strict; Path=/${this.secure ? '; Secure' : ''}`;
      res.writeHead(303, { Location: '/', 'Set-Cookie': `${COOKIE}=${token}; ${attributes}`, 'Cache-Control': 'no-store' }).end();
      return false;
    }
    res.writeHead(401, { 'Content-Type': 'text/plain', 'WWW-Authenticate': 'Bearer realm="falco-grpc-output console"' });
    res.end('unauthorized: open the console as /?token=<the token in --ui-token-file>, or send Authorization: Bearer <token>\n');
    return false;
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function cookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return v.join('=');
  }
  return undefined;
}

function json(res: ServerResponse, body: unknown): void {
  res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' }).end(JSON.stringify(body));
}

/** Throws, before anything listens, when the address is not loopback and TLS or a token/client certificates are missing. */
export function createConsole(options: ConsoleOptions): WebConsole {
  return new ConsoleServer(options);
}
