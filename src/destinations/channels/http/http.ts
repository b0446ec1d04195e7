// http_output: each alert POSTed on its own to a URL, as Falco's http_output does, with Falco's TLS
// options, a bounded number of requests in flight, and retries for what a retry can fix.
//
// node:http and node:https rather than fetch or undici: an https.Agent takes the CA, the client
// certificate and key, rejectUnauthorized, keep-alive and a socket cap directly, which is all this
// needs; Node 20's fetch cannot present a client certificate without adding undici from npm.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { join } from 'node:path';
import { loadPem } from '../../../tls/pem.js';
import type { Channel, ChannelItem, DeliveryReport } from '../channel.js';
import type { HttpOutputOptions } from './index.js';
import { backoffDelay, sleep, type BackoffPolicy } from '../../../common/backoff.js';
import { errorText } from '../../../common/errors.js';

export interface HttpTuning {
  backoff: BackoffPolicy;
  /** Longest wait a Retry-After header gets; a server asking for more is retried after this. */
  retryAfterCapMs: number;
}

export const DEFAULT_HTTP_TUNING: HttpTuning = {
  backoff: { baseMs: 250, capMs: 10_000 },
  retryAfterCapMs: 30_000,
};

// Falco's http_output defaults for client_cert and client_key (its source's and falco.yaml's),
// used when mtls is on without them.
export const FALCO_HTTP_CLIENT_CERT = '/etc/ssl/certs/client.crt';
export const FALCO_HTTP_CLIENT_KEY = '/etc/ssl/certs/client.key';

/** How one request ended. */
type Attempt =
  | { kind: 'delivered' }
  | { kind: 'retry'; reason: string; retryAfterMs?: number }
  /** The receiver refused the alert (a 4xx) or TLS cannot work as configured: retrying cannot help. */
  | { kind: 'rejected'; reason: string; why: string }
  | { kind: 'aborted' };

/** Why an alert was given up; `peerDown` when retries ran out on a reason that hits every alert alike. */
interface GiveUp {
  error: string;
  peerDown: boolean;
}

// TLS failures that are configuration, not weather: an untrusted or mismatched certificate, a handshake
// alert from the server (such as "certificate required" when mTLS is off).
const TLS_CONFIG_ERROR = /^(ERR_TLS_|ERR_SSL_|ERR_OSSL_|UNABLE_TO_|CERT_|DEPTH_ZERO_|SELF_SIGNED_|HOSTNAME_MISMATCH)/;

/** Keep this much of an error response's body for the error message. */
const BODY_SNIPPET_CHARS = 200;

export class HttpChannel implements Channel {
  /** The URL without credentials or query string, named in every error. */
  readonly url: string;
  private readonly target: URL;
  private readonly agent: http.Agent;
  private readonly request: typeof http.request;
  private readonly userAgent: string;
  private readonly maxConcurrency: number;
  private readonly maxAttempts: number;
  private readonly timeoutMs: number;
  private readonly tuning: HttpTuning;
  private readonly presentsClientCert: boolean;
  private closed = false;

  /** Throws, saying what is wrong, on a bad URL, a bad number or TLS files that cannot be read. */
  constructor(options: HttpOutputOptions, tuning: Partial<HttpTuning> = {}) {
    try {
      this.target = new URL(options.url);
    } catch {
      throw new Error(`http url "${options.url}" is not a URL`);
    }
    if (this.target.protocol !== 'http:' && this.target.protocol !== 'https:') {
      throw new Error(`http url "${options.url}" must start with http:// or https://`);
    }
    this.url = `${this.target.protocol}//${this.target.host}${this.target.pathname}`;
    this.userAgent = options.userAgent ?? 'falcosecurity/falco';
    try {
      http.validateHeaderValue('User-Agent', this.userAgent);
    } catch {
      throw new Error(`http userAgent ${JSON.stringify(this.userAgent)} is not a valid header value`);
    }
    this.maxConcurrency = positiveInteger(options.maxConcurrency ?? 8, 'maxConcurrency');
    this.maxAttempts = positiveInteger(options.maxAttempts ?? 5, 'maxAttempts');
    this.timeoutMs = positiveInteger(options.timeoutMs ?? 10_000, 'timeoutMs');
    this.tuning = { ...DEFAULT_HTTP_TUNING, ...tuning };
    const agentOptions = { keepAlive: options.keepAlive ?? true, maxSockets: this.maxConcurrency };
    this.presentsClientCert = this.target.protocol === 'https:' && options.mtls === true;
    if (this.target.protocol === 'https:') {
      this.agent = new https.Agent({ ...agentOptions, ...tlsOptions(options) });
      this.request = https.request;
    } else {
      this.agent = new http.Agent(agentOptions);
      this.request = http.request;
    }
  }

  async deliver(items: readonly ChannelItem[], signal: AbortSignal): Promise<DeliveryReport> {
    let delivered = 0;
    let failed = 0;
    let error: string | undefined;
    let peerDown = false;
    let next = 0;
    const fail = (why: string): void => {
      failed++;
      error = why;
    };
    // maxConcurrency loops share the batch: each takes the next alert when its request is done.
    const loop = async (): Promise<void> => {
      while (next < items.length) {
        const item = items[next++]!;
        if (this.closed) fail(`POST ${this.url}: the channel is closed`);
        else if (peerDown) failed++; // `error` already says why the server is given up on
        else if (signal.aborted) fail(`POST ${this.url}: aborted (the output is closing)`);
        else {
          const giveUp = await this.post(item.line, signal).catch(
            (err: unknown): GiveUp => ({ error: `POST ${this.url}: ${errorText(err)}`, peerDown: false }),
          );
          if (giveUp === null) delivered++;
          else {
            fail(giveUp.error);
            // Retries ran out on a down or failing server: the alerts not yet tried would only wait out
            // the same retries, so they fail now and the next batch tries afresh.
            peerDown ||= giveUp.peerDown;
          }
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.maxConcurrency, items.length) }, loop));
    return error === undefined ? { delivered, failed } : { delivered, failed, error };
  }

  /** POSTs one alert with retries; null once delivered. */
  private async post(line: string, signal: AbortSignal): Promise<GiveUp | null> {
    const body = Buffer.from(line);
    // Falco sends application/json with json_output and text/plain without; a JSON alert starts with "{".
    const contentType = line.startsWith('{') ? 'application/json' : 'text/plain';
    for (let attempt = 1; ; attempt++) {
      const result = await this.attempt(body, contentType, signal);
      const tries = `after ${attempt} attempt${attempt === 1 ? '' : 's'}`;
      switch (result.kind) {
        case 'delivered':
          return null;
        case 'aborted':
          return { error: `POST ${this.url}: aborted (the output is closing) ${tries}`, peerDown: false };
        case 'rejected':
          return { error: `POST ${this.url}: ${result.reason} ${tries} (not retried: ${result.why})`, peerDown: false };
        case 'retry': {
          if (attempt >= this.maxAttempts) return { error: `POST ${this.url}: ${result.reason} ${tries}`, peerDown: true };
          const delay = result.retryAfterMs ?? backoffDelay(attempt, this.tuning.backoff);
          if (!(await sleep(delay, signal))) {
            return { error: `POST ${this.url}: ${result.reason} ${tries}, then aborted (the output is closing)`, peerDown: false };
          }
        }
      }
    }
  }

  /** One request, bounded by timeoutMs from start to the response's last byte. */
  private attempt(body: Buffer, contentType: string, signal: AbortSignal): Promise<Attempt> {
    return new Promise<Attempt>((resolve) => {
      let settled = false;
      const finish = (result: Attempt): void => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        resolve(result);
      };
      const req = this.request(this.target, {
        method: 'POST',
        agent: this.agent,
        headers: { 'Content-Type': contentType, 'Content-Length': body.length, 'User-Agent': this.userAgent },
      });
      // Also covers a 2xx whose body never ends: the alert counts as delivered, the socket is freed.
      const timer = setTimeout(() => {
        finish({ kind: 'retry', reason: `no response within ${this.timeoutMs} ms` });
        req.destroy();
      }, this.timeoutMs);
      req.on('close', () => clearTimeout(timer));
      const onAbort = (): void => {
        finish({ kind: 'aborted' });
        req.destroy();
      };
      signal.addEventListener('abort', onAbort, { once: true });
      req.on('error', (err) => finish(classifyError(err, this.presentsClientCert)));
      req.on('response', (res) => {
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) {
          finish({ kind: 'delivered' });
          res.resume(); // drained so the keep-alive connection can serve the next request
          return;
        }
        let snippet = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (snippet.length < BODY_SNIPPET_CHARS) snippet += chunk.slice(0, BODY_SNIPPET_CHARS - snippet.length);
        });
        const done = (): void => finish(classifyStatus(status, res.statusMessage ?? '', res.headers['retry-after'], snippet, this.tuning));
        res.on('end', done);
        res.on('close', done); // a body cut short still tells the status
        res.on('error', () => undefined); // 'close' follows and reports
      });
      req.end(body);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.agent.destroy();
  }
}

function classifyStatus(status: number, message: string, retryAfter: string | undefined, body: string, tuning: HttpTuning): Attempt {
  const text = body.trim().replace(/\s+/g, ' ');
  const reason = `${status}${message ? ` ${message}` : ''}${text ? ` (${text})` : ''}`;
  if (status === 429 || status === 408 || status >= 500) {
    const wait = retryAfterMs(retryAfter, tuning.retryAfterCapMs);
    return wait === undefined ? { kind: 'retry', reason } : { kind: 'retry', reason, retryAfterMs: wait };
  }
  // Other 4xx, and 3xx: redirects are not followed, as by Falco's.
  return { kind: 'rejected', reason, why: status < 400 ? 'redirects are not followed' : 'the receiver refused the alert' };
}

// What to do about the TLS failures users meet most, said in the error.
const TLS_HINTS: ReadonlyArray<[RegExp, string]> = [
  [/^(SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT)/, "the server's certificate is not trusted; set caCert or caPath"],
  [/CERTIFICATE_REQUIRED$/, 'the server requires a client certificate; set mtls, clientCert and clientKey'],
  [/ALERT_(UNKNOWN_CA|BAD_CERTIFICATE)$/, 'the server does not accept the client certificate'],
];

function classifyError(err: Error, presentsClientCert: boolean): Attempt {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  if (!TLS_CONFIG_ERROR.test(code)) {
    // Node's TLS server checks a client certificate after the TLS 1.3 handshake and just closes the
    // connection when it refuses it: the client sees only a reset. Retried, as any reset, but said.
    const mtlsHint =
      presentsClientCert && (code === 'ECONNRESET' || code === 'EPIPE')
        ? '; a server that refuses the client certificate closes the connection like this'
        : '';
    return { kind: 'retry', reason: errorText(err) + mtlsHint };
  }
  const hint = TLS_HINTS.find(([pattern]) => pattern.test(code))?.[1];
  return { kind: 'rejected', reason: errorText(err), why: hint ?? 'TLS cannot work as configured' };
}

/** Retry-After as delay-seconds or an HTTP date, capped; undefined when absent or unreadable. */
function retryAfterMs(header: string | undefined, capMs: number): number | undefined {
  if (header === undefined) return undefined;
  const value = header.trim();
  const ms = /^\d+$/.test(value) ? Number(value) * 1000 : Date.parse(value) - Date.now();
  return Number.isFinite(ms) ? Math.min(capMs, Math.max(0, ms)) : undefined;
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) throw new Error(`http ${name} must be a positive integer, not ${value}`);
  return value;
}

/** The https.Agent's TLS settings from Falco's http_output keys. */
function tlsOptions(options: HttpOutputOptions): https.AgentOptions {
  const ca = [
    ...(options.caCert ? [loadPem(options.caCert, 'http caCert')] : []),
    ...(options.caPath ? certificatesIn(options.caPath) : []),
  ];
  return {
    rejectUnauthorized: !options.insecure,
    // A CA given replaces Node's built-in roots, as curl's CAINFO/CAPATH do for Falco.
    ...(ca.length > 0 ? { ca } : {}),
    // As Falco, the client certificate is presented only with mtls on.
    ...(options.mtls
      ? {
          cert: loadPem(options.clientCert ?? FALCO_HTTP_CLIENT_CERT, 'http clientCert'),
          key: loadPem(options.clientKey ?? FALCO_HTTP_CLIENT_KEY, 'http clientKey'),
        }
      : {}),
  };
}

/** Every PEM certificate file in a directory (OpenSSL's hashed links and plain .pem/.crt files alike). */
function certificatesIn(dir: string): Buffer[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    throw new Error(`cannot read http caPath ${dir}: ${(err as Error).message}`);
  }
  const pems: Buffer[] = [];
  for (const name of names.sort()) {
    const file = join(dir, name);
    try {
      if (!statSync(file).isFile()) continue;
      const content = readFileSync(file);
      if (content.includes('-----BEGIN CERTIFICATE-----')) pems.push(content);
    } catch {
      // an unreadable entry is skipped, as OpenSSL skips it in a CA directory
    }
  }
  if (pems.length === 0) throw new Error(`http caPath ${dir} holds no PEM certificate`);
  return pems;
}
