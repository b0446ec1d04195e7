// `http_output`: each alert POSTed to a URL, with Falco's TLS options.

import type { ChannelSpec } from '../spec.js';
import { HttpChannel } from './http.js';

export interface HttpOutputOptions {
  url: string;
  /** Default "falcosecurity/falco" as Falco sends. */
  userAgent?: string;
  /** Skip verifying the server's certificate. */
  insecure?: boolean;
  /** CA bundle file to verify the server with. */
  caCert?: string;
  /** Directory of CA certificates. */
  caPath?: string;
  /** Present a client certificate. */
  mtls?: boolean;
  clientCert?: string;
  clientKey?: string;
  /** Reuse connections. Default true. */
  keepAlive?: boolean;
  /** Requests in flight at once. Default 8. */
  maxConcurrency?: number;
  /** Attempts per alert on 5xx, 429 or a connection error before giving up. Default 5. */
  maxAttempts?: number;
  /** Per-request timeout. Default 10000 ms. */
  timeoutMs?: number;
}

export const httpChannel: ChannelSpec<'http', HttpOutputOptions> = {
  type: 'http',
  keys: {
    url: true,
    userAgent: true,
    insecure: true,
    caCert: true,
    caPath: true,
    mtls: true,
    clientCert: true,
    clientKey: true,
    keepAlive: true,
    maxConcurrency: true,
    maxAttempts: true,
    timeoutMs: true,
  },
  describe: ({ url }) => `http ${url}`,
  problem: ({ url }) => {
    let parsed: URL | null = null;
    try {
      parsed = new URL(url);
    } catch {
      // reported below
    }
    return parsed !== null && (parsed.protocol === 'http:' || parsed.protocol === 'https:')
      ? null
      : `url must be an http:// or https:// URL, got "${String(url)}"`;
  },
  open: (options) => new HttpChannel(options),
};
