// A grpc-js Transmitter client for a FloodConnection, as a user would open one: shared by the
// naive peer (main thread) and the pino transport (its worker thread).

import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { TransmitterClient } from '../../dist/src/gen/falco/transmit/v1/transmit.js';

/** PEM text as given, or the contents of the file it names. Buffers arrive in workers as Uint8Arrays. */
function pem(value) {
  if (typeof value !== 'string') return Buffer.from(value);
  return value.includes('-----BEGIN') ? Buffer.from(value) : readFileSync(value);
}

/**
 * @param {{ target: string, tls?: { ca: string | Uint8Array, cert: string | Uint8Array, key: string | Uint8Array }, insecure?: boolean }} connection
 * @returns {import('../../dist/src/gen/falco/transmit/v1/transmit.js').TransmitterClient}
 */
export function createTransmitterClient({ target, tls, insecure }) {
  let credentials;
  if (target.startsWith('unix:') || insecure) credentials = grpc.credentials.createInsecure();
  else if (tls) credentials = grpc.credentials.createSsl(pem(tls.ca), pem(tls.key), pem(tls.cert));
  else throw new Error(`${target} is a TCP target: give tls { ca, cert, key }, or insecure: true`);
  // grpc-js defaults otherwise: no keepalive tuning, default reconnect backoff.
  return new TransmitterClient(target, credentials);
}
