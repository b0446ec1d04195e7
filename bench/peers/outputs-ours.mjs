// Peer "falco-grpc-output" of the classic outputs benchmark: createFileOutput for a file alone,
// createOutputs for several destinations (each alert encoded once on the main thread, copied into
// every output's ring; each output's worker thread does its I/O).

import { createFileOutput, createOutputs } from '../../dist/src/index.js';

/**
 * @param {{ file: string | null, httpUrl: string | null, grpc: { target: string } | null }} dest
 * @param {import('../../dist/src/index.js').QueueOptions} [queue] ring options; the defaults otherwise
 * @returns {import('../outputs-peer.mjs').OutputsPeer}
 */
export function createOursPeer(dest, queue = {}) {
  // keepAlive: the file stays open, as pino's and the naive peer's do (Falco's default reopens it per batch).
  const file = dest.file && { filename: dest.file, keepAlive: true };
  const only = dest.file && !dest.httpUrl && !dest.grpc;
  const output = only
    ? createFileOutput({ ...file, ...queue })
    : createOutputs({ ...queue, ...(file && { file }), ...(dest.httpUrl && { http: { url: dest.httpUrl } }), ...(dest.grpc && { grpc: dest.grpc }) });
  /** Each output's stats by destination kind: output names start with "file ", "http " or "grpc ". */
  const byKind = () => {
    const stats = only ? { [output.name]: output.stats() } : output.stats().outputs;
    return Object.fromEntries(Object.entries(stats).map(([name, s]) => [name.split(' ')[0], s]));
  };
  return {
    emit: (alert) => output.emit(alert),
    flush: async (timeoutMs) => (await output.flush(timeoutMs)).flushed,
    drops() {
      const stats = byKind();
      return { file: stats.file?.dropped ?? 0, http: stats.http?.dropped ?? 0, grpc: stats.grpc?.dropped ?? 0 };
    },
    close: async () => {
      await output.close(1000);
    },
  };
}
