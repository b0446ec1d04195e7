// GET /metrics over plain HTTP, for Prometheus to scrape; every other path is 404.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { parseListenAddress } from '../input/http-listener.js';

export interface MetricsServer {
  /** http://host:port/metrics, with the bound port. */
  url: string;
  /** Stops listening and ends open connections (a scraper keeps its connection alive). */
  close(): Promise<void>;
}

export const METRICS_PATH = '/metrics';

/** Serves `registry` on `listen` (host:port; port 0 takes any free port). */
export async function startMetricsServer(listen: string, registry: Registry): Promise<MetricsServer> {
  const { host, port } = parseListenAddress(listen);
  const server = createServer((req, res) => void answer(req, res, registry));
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new Error(`cannot serve metrics on ${listen}: ${err.message}`)));
    server.listen(port, host, resolve);
  });
  const bound = server.address();
  const boundPort = typeof bound === 'object' && bound !== null ? bound.port : port;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${boundPort}${METRICS_PATH}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function answer(req: IncomingMessage, res: ServerResponse, registry: Registry): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (path !== METRICS_PATH) return void res.writeHead(404, { 'Content-Type': 'text/plain' }).end(`not found: metrics are at ${METRICS_PATH}\n`);
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    return void res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' }).end(`method ${req.method ?? '?'} not allowed\n`);
  }
  try {
    const body = await registry.metrics();
    res.writeHead(200, { 'Content-Type': registry.contentType }).end(req.method === 'HEAD' ? undefined : body);
  } catch (err) {
    res.writeHead(500, { 'Content-Type': 'text/plain' }).end(`collecting metrics failed: ${err instanceof Error ? err.message : String(err)}\n`);
  }
}
