// --metrics-listen, shared by `receive` and `send`: the flag, and serving what the command registers.

import { Option } from 'commander';
import type { Registry } from 'prom-client';
import { checkHostPort } from '../config/checks.js';
import { createMetricsRegistry } from '../metrics/registry.js';
import { startMetricsServer, type MetricsServer } from '../metrics/server.js';

export const METRICS_LISTEN_ENV = 'FALCO_GRPC_OUTPUT_METRICS_LISTEN';

/**
 * The flag, also read from FALCO_GRPC_OUTPUT_METRICS_LISTEN. A bad value throws a plain Error
 * (not commander's InvalidArgumentError), so the command exits 2 before anything listens.
 */
export function metricsListenOption(): Option {
  return new Option('--metrics-listen <addr>', 'serve Prometheus metrics at http://host:port/metrics (port 0: any free port)')
    .env(METRICS_LISTEN_ENV)
    .argParser((value: string) => {
      try {
        return checkHostPort(value);
      } catch (err) {
        throw new Error(`--metrics-listen (or ${METRICS_LISTEN_ENV}): ${(err as Error).message}`);
      }
    });
}

/** Builds the command's registry, serves it, and says where on stderr. */
export async function serveMetrics(command: string, listen: string, register: (registry: Registry) => void): Promise<MetricsServer> {
  const registry = createMetricsRegistry();
  register(registry);
  const server = await startMetricsServer(listen, registry);
  process.stderr.write(`falco-grpc-output ${command}: metrics on ${server.url}\n`);
  return server;
}
