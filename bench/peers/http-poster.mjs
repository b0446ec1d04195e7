// One HTTP POST per alert, as Falco's http_output sends them, over keep-alive connections: shared
// by the naive peer (main thread) and the pino http transport (its worker thread).

import http from 'node:http';

/**
 * The same number of connections as the http output's default maxConcurrency (8): without a cap
 * Node's agent opens one socket per request waiting, thousands of them while a server stalls.
 */
export const HTTP_CONNECTIONS = 8;

/** @param {string} url */
export function createPoster(url, connections = HTTP_CONNECTIONS) {
  const target = new URL(url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  let inFlight = 0;
  let failed = 0;
  return {
    /** Resolves once the server answered (or the request failed, counted in failed()); never rejects. */
    post(line) {
      inFlight++;
      return new Promise((resolve) => {
        const done = (ok) => {
          inFlight--;
          if (!ok) failed++;
          resolve();
        };
        const req = http.request(target, {
          method: 'POST',
          agent,
          headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(line) },
        });
        req.on('response', (res) => {
          res.resume(); // drained so the connection serves the next request
          done(res.statusCode >= 200 && res.statusCode < 300);
        });
        req.on('error', () => done(false));
        req.end(line);
      });
    },
    inFlight: () => inFlight,
    failed: () => failed,
    close: () => agent.destroy(),
  };
}
