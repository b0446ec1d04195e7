// A pino transport that POSTs each log line to a URL, one request per alert as Falco's http_output
// does, with up to HTTP_CONNECTIONS requests in flight: what a pino user would write for an HTTP
// destination. It reads lines as fast as requests complete; pino's multistream, which feeds it
// next to the other targets, does not wait for it.

import build from 'pino-abstract-transport';
import { createPoster, HTTP_CONNECTIONS } from './http-poster.mjs';

/** @param {{ url: string }} options */
export default function httpTransport({ url }) {
  const poster = createPoster(url);
  const inFlight = new Set();
  const settled = () => Promise.all(inFlight);
  return build(
    async (source) => {
      for await (const line of source) {
        const request = poster.post(line).then(() => inFlight.delete(request));
        inFlight.add(request);
        if (inFlight.size >= HTTP_CONNECTIONS) await Promise.race(inFlight);
      }
      await settled();
    },
    {
      parse: 'lines',
      async close() {
        await settled();
        poster.close();
      },
    },
  );
}
