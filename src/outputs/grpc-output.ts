// createGrpcOutput(): the gRPC transmitter. emit() encodes on the calling thread into the
// output's ring; its worker thread owns the gRPC connection (src/destinations/grpc/sender.ts).

import { RingOutput } from '../host/ring-output.js';
import type { Output } from '../host/output.js';
import { resolveOptions, type GrpcOutputOptions } from './grpc-options.js';

/** The gRPC output: the common Output interface (src/host/output.ts). */
export type GrpcOutput = Output;

let warnedInsecure = false;

export function createGrpcOutput(options: GrpcOutputOptions): GrpcOutput {
  return createGrpcRingOutput(options);
}

/** The same, as the ring output it is: the fan-out (src/outputs/fan-out.ts) copies encoded alerts into it. */
export function createGrpcRingOutput(options: GrpcOutputOptions): RingOutput {
  const resolved = resolveOptions(options);
  const output = new RingOutput(`grpc ${resolved.label}`, resolved.queue, {
    kind: 'grpc',
    config: resolved.sender,
    requestedProducerId: resolved.requestedProducerId,
  });
  if (resolved.warnInsecure && !warnedInsecure) {
    warnedInsecure = true;
    process.emitWarning(`sending alerts to ${resolved.label} in plaintext (insecure: true)`, {
      code: 'FALCO_GRPC_OUTPUT_INSECURE',
    });
  }
  return output;
}
