// Falco's http_output as an input: an HTTP server taking one JSON alert per POST body, as Falco
// and Falcosidekick's webhook post them, on any URL path.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { AlertInput } from '../codec/alert.js';
import { parseFalcoJsonLine } from '../codec/falco-json.js';
import { whyNotAnAlert } from './not-an-alert.js';
import type { SendCounters } from './counters.js';

/** What became of an alert handed on: queued, or dropped because the ring was full or it was too large. */
export type Delivery = 'accepted' | 'full' | 'too_large';

export interface Refusal {
  /** 1-based count of requests since start. */
  requestNo: number;
  /** The peer, host:port. */
  from: string;
  status: number;
  reason: string;
}

export interface HttpListenerOptions {
  /** host:port (port 0: any free port). */
  listen: string;
  /** Largest request body. Default 1 MiB. */
  maxBodyBytes?: number;
  /** A request (headers and body) must be complete within this time, or it is answered 408 and cut. Default 30 s. */
  requestTimeoutMs?: number;
  /** Most connections open at once; more are refused until some close. Default 256. */
  maxConnections?: number;
  /** Counted here: read (each request), malformed (each 4xx) and httpResponses. */
  counters: SendCounters;
  /** Hands one alert on without blocking; throws a TypeError naming the field for an invalid alert. */
  deliver(alert: AlertInput): Delivery;
  /** Every request not answered 2xx. */
  onRefused?(refusal: Refusal): void;
  /** A connection closed at once because maxConnections were open (Node's server drops it before any request). */
  onConnectionRefused?(from: string, limit: number): void;
}

export interface HttpListener {
  /** http://host:port, with the bound port. */
  url: string;
  /** Stops accepting, lets requests in hand finish (for at most graceMs), closes every connection. */
  close(graceMs?: number): Promise<void>;
}

const ACCEPTED = 204;
/** Headers must be in within this time (or the request timeout, if shorter): Node's own default is a minute. */
const HEADERS_TIMEOUT_MS = 10_000;
/** A peer that goes on sending past the limit is cut off after this many times the limit. */
const DISCARD_FACTOR = 16;
/** How long a connection cut after its answer goes on reading (and dropping) what the peer still sends. */
const LINGER_MS = 2000;

/**
 * Closes a connection the peer is still writing to without losing the answer just written.
 * Closing a socket with unread bytes in it sends a reset, and a reset can reach the peer before
 * it has read the answer, which it then never sees (1 to 2 cuts in 40 on loopback). So: half-close
 * after the answer, drop what still arrives, and close for good when the peer closes, or after
 * LINGER_MS. Memory stays bounded; the peer holds a connection LINGER_MS at most.
 */
function lingerClose(socket: Socket): void {
  socket.end();
  socket.resume();
  socket.once('end', () => socket.destroy());
  setTimeout(() => socket.destroy(), LINGER_MS).unref();
}

/** Host and port of `host:port` or `[v6]:port`. */
export function parseListenAddress(address: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(address);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) {
    throw new Error(`HTTP listen address must be host:port (e.g. 127.0.0.1:2801 or [::1]:2801), got "${address}"`);
  }
  return { host: (m[1] ?? m[2])!, port };
}

function hostPort(host: string | undefined, port: number | undefined): string {
  const h = host ?? '?';
  return `${h.includes(':') ? `[${h}]` : h}:${port ?? '?'}`;
}

function isPlainText(req: IncomingMessage): boolean {
  return (req.headers['content-type'] ?? '').toLowerCase().startsWith('text/plain');
}

export async function startHttpListener(options: HttpListenerOptions): Promise<HttpListener> {
  const { host, port } = parseListenAddress(options.listen);
  const maxBody = options.maxBodyBytes ?? 1024 * 1024;
  const { counters } = options;
  let requests = 0;
  /** The request each connection is reading, by its number: a timeout names it. */
  const inFlight = new WeakMap<object, number>();
  /** Connections answered and being closed: what they still send or fail is not a new request. */
  const closing = new WeakSet<Socket>();
  /** Answers this request, then closes its connection by lingerClose: Node's own close (destroySoon) would reset it. */
  const answerAndClose = (req: IncomingMessage, res: ServerResponse, requestNo: number, status: number, reason: string): void => {
    const socket = req.socket;
    closing.add(socket);
    socket.destroySoon = () => lingerClose(socket);
    res.setHeader('Connection', 'close');
    answer(req, res, requestNo, status, reason);
  };

  const answer = (req: IncomingMessage, res: ServerResponse, requestNo: number, status: number, reason = ''): void => {
    counters.httpResponses[status] = (counters.httpResponses[status] ?? 0) + 1;
    if (status >= 400 && status < 500) counters.malformed++;
    if (status === ACCEPTED) {
      res.writeHead(ACCEPTED).end();
      return;
    }
    options.onRefused?.({ requestNo, from: hostPort(req.socket.remoteAddress, req.socket.remotePort), status, reason });
    res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`${reason}\n`);
  };

  const tooLarge = (size: string): string => `body of ${size} is over the ${maxBody}-byte limit: POST one alert per request`;

  const onBody = (req: IncomingMessage, res: ServerResponse, requestNo: number, body: Buffer): void => {
    const text = body.toString('utf8');
    if (text.trim() === '') return answer(req, res, requestNo, 400, 'empty body: POST one Falco JSON alert');
    let alert: AlertInput;
    try {
      alert = parseFalcoJsonLine(text);
    } catch (err) {
      return answer(req, res, requestNo, 400, whyNotAnAlert(err, text, isPlainText(req)));
    }
    let delivery: Delivery;
    try {
      delivery = options.deliver(alert);
    } catch (err) {
      if (err instanceof TypeError) return answer(req, res, requestNo, 400, err.message);
      return answer(req, res, requestNo, 500, `could not queue the alert: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (delivery === 'accepted') return answer(req, res, requestNo, ACCEPTED);
    if (delivery === 'too_large') return answer(req, res, requestNo, 413, 'alert is larger than the transmitter takes (its max alert size); dropped');
    res.setHeader('Retry-After', '1');
    answer(req, res, requestNo, 503, 'transmitter buffer full (receiver slow or down); alert dropped');
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const requestNo = ++requests;
    counters.read++;
    inFlight.set(req.socket, requestNo);
    res.on('finish', () => inFlight.delete(req.socket));
    if (req.method !== 'POST') {
      req.resume();
      res.setHeader('Allow', 'POST');
      return answer(req, res, requestNo, 405, `method ${req.method ?? '?'} not allowed: POST one Falco JSON alert`);
    }
    const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
    if (encoding !== 'identity') {
      req.resume();
      return answer(req, res, requestNo, 415, `Content-Encoding ${encoding} is not supported: POST the alert uncompressed`);
    }
    // Read the whole body even past the limit (and drop it), so the peer gets the 413 rather
    // than a reset while it is still sending; a peer that will not stop is cut off.
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBody) chunks.push(chunk);
      else if (size > maxBody * DISCARD_FACTOR) {
        req.removeAllListeners('data').removeAllListeners('end').resume();
        answerAndClose(req, res, requestNo, 413, tooLarge(`more than ${maxBody * DISCARD_FACTOR} bytes`));
      }
    });
    req.on('end', () => {
      if (size > maxBody) return answer(req, res, requestNo, 413, tooLarge(`${size} bytes`));
      onBody(req, res, requestNo, Buffer.concat(chunks, size));
    });
    req.on('error', () => {}); // a peer gone mid-body: nothing to answer
  };

  const requestTimeout = options.requestTimeoutMs ?? 30_000;
  const server: Server = createServer(
    {
      requestTimeout,
      headersTimeout: Math.min(HEADERS_TIMEOUT_MS, requestTimeout),
      // How often Node looks for requests over their time: its default (30 s) would let a slow one run on.
      connectionsCheckingInterval: Math.max(50, Math.min(1000, requestTimeout / 4)),
    },
    onRequest,
  );
  server.maxConnections = options.maxConnections ?? 256;
  server.on('drop', (data?: { remoteAddress?: string; remotePort?: number }) => {
    counters.refusedConnections++;
    options.onConnectionRefused?.(hostPort(data?.remoteAddress, data?.remotePort), server.maxConnections);
  });
  // A request too slow to finish (a trickled body, headers that never end) or one that is not
  // HTTP: answered and cut, and counted like any refused request.
  server.on('clientError', (err: NodeJS.ErrnoException, duplex) => {
    const socket = duplex as Socket & { _httpMessage?: { headersSent?: boolean } | null };
    const answered = closing.has(socket); // a 413 already, or an earlier error: no second request
    closing.add(socket);
    if (!answered && err.code !== 'ECONNRESET') {
      const timedOut = err.code === 'ERR_HTTP_REQUEST_TIMEOUT';
      const status = timedOut ? 408 : 400;
      const reason = timedOut ? `request not complete within ${requestTimeout / 1000} s; closed` : `not an HTTP request (${err.code ?? err.message}); closed`;
      // A request whose body was too slow was counted as read when it began; headers that never ended were not.
      let requestNo = inFlight.get(socket);
      if (requestNo === undefined) {
        requestNo = ++requests;
        counters.read++;
      }
      inFlight.delete(socket);
      counters.httpResponses[status] = (counters.httpResponses[status] ?? 0) + 1;
      counters.malformed++;
      options.onRefused?.({ requestNo, from: hostPort(socket.remoteAddress, socket.remotePort), status, reason });
      if (socket.writable && !socket._httpMessage?.headersSent) {
        const body = `${reason}\n`;
        socket.write(`HTTP/1.1 ${status} ${timedOut ? 'Request Timeout' : 'Bad Request'}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      }
    }
    lingerClose(socket);
  });
  // A client that asks first (Expect: 100-continue, as curl does for large bodies) hears
  // "too large" before it sends the body at all.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    const declared = Number(req.headers['content-length']);
    if (declared > maxBody) {
      const requestNo = ++requests;
      counters.read++;
      return answerAndClose(req, res, requestNo, 413, tooLarge(`${declared} bytes`));
    }
    res.writeContinue();
    onRequest(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address();
  const url = `http://${hostPort(host, typeof bound === 'object' && bound ? bound.port : port)}`;

  return {
    url,
    close(graceMs = 5000): Promise<void> {
      return new Promise((resolve) => {
        const timer = setTimeout(() => server.closeAllConnections(), graceMs);
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
        server.closeIdleConnections();
      });
    },
  };
}
