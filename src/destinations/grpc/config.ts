// The gRPC sender's settings: plain data, cloned into the output's worker thread.

import type { LoadedTls } from '../../tls/pem.js';

export interface SenderConfig {
  /** The channel target: one address, or several joined for the targets resolver (targets.ts). */
  target: string;
  tls: LoadedTls | null;
  serverName: string | undefined;
  producerId: string;
  batchBytes: number;
  batchAlerts: number;
  lingerMs: number;
  keepaliveMs: number;
  reconnectInitialMs: number;
  reconnectMaxMs: number;
}
