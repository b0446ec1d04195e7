// Several receivers behind one transmitter, with grpc-js's own load balancing: the targets become
// one channel target that a small resolver turns into every receiver's addresses (a DNS name with
// several addresses counts as several), and pick_first with a shuffled list keeps each producer
// on one receiver, spreads producers over all of them, and moves to the next when one dies.
// The sender then resends what was not acked, and the bus's dedupe makes the resend harmless.

import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import * as grpc from '@grpc/grpc-js';

const SCHEME = 'falco-grpc-output-targets';

/** The service config every transmitter channel uses: one receiver at a time, picked at random. */
export const SERVICE_CONFIG = JSON.stringify({ loadBalancingConfig: [{ pick_first: { shuffleAddressList: true } }] });

/** The channel target for one or more `host:port` / `unix:` targets. */
export function channelTarget(targets: readonly string[]): string {
  if (targets.length === 1) return targets[0]!;
  return `${SCHEME}:///${targets.join(',')}`;
}

function splitHostPort(target: string): { host: string; port: number } {
  const m = /^(\[([^\]]+)\]|[^:]+):(\d+)$/.exec(target);
  if (!m) throw new Error(`not host:port: ${target}`);
  return { host: m[2] ?? m[1]!, port: Number(m[3]) };
}

/** Resolves each host:port of the target (names through the system resolver, all their addresses). */
class TargetsResolver implements grpc.experimental.Resolver {
  private readonly targets: string[];
  private resolving = false;
  private destroyed = false;

  constructor(
    target: grpc.experimental.GrpcUri,
    private readonly listener: grpc.experimental.ResolverListener,
  ) {
    this.targets = target.path.split(',').filter((t) => t !== '');
  }

  updateResolution(): void {
    if (this.resolving) return;
    this.resolving = true;
    void this.resolve().then((result) => {
      this.resolving = false;
      if (!this.destroyed) this.listener(result, {}, null, '');
    });
  }

  private async resolve(): Promise<grpc.experimental.StatusOr<grpc.experimental.Endpoint[]>> {
    const endpoints: grpc.experimental.Endpoint[] = [];
    const failures: string[] = [];
    await Promise.all(
      this.targets.map(async (target) => {
        try {
          const { host, port } = splitHostPort(target);
          const addresses = isIP(host) ? [{ address: host }] : await lookup(host, { all: true });
          for (const a of addresses) endpoints.push({ addresses: [{ host: a.address, port }] });
        } catch (err) {
          failures.push(`${target}: ${(err as Error).message}`);
        }
      }),
    );
    if (endpoints.length === 0) {
      return grpc.experimental.statusOrFromError({ code: grpc.status.UNAVAILABLE, details: `no receiver address resolved (${failures.join('; ')})`, metadata: new grpc.Metadata() });
    }
    return grpc.experimental.statusOrFromValue(endpoints);
  }

  destroy(): void {
    this.destroyed = true;
  }

  /** The authority (host:port, as for a single target): TLS checks the first target's host; serverName overrides it. */
  static getDefaultAuthority(target: grpc.experimental.GrpcUri): string {
    return target.path.split(',')[0] ?? '';
  }
}

let registered = false;

/** Makes the targets scheme known to this thread's grpc-js (each worker thread has its own). */
export function registerTargetsResolver(): void {
  if (registered) return;
  grpc.experimental.registerResolver(SCHEME, TargetsResolver);
  registered = true;
}
