// falco_grpc_output.send: the settings a `send` transmitter can take from a config file.
// Parsed and checked here; `send --config` fills the flags the command line and environment left unset.

import { checkGrpcAddress, checkHostPort, checkSize } from './checks.js';
import { PROJECT_SECTION } from './falco-keys.js';
import type { ConfigDocument } from './load.js';
import { definedOnly, type Report } from './section.js';
import { readTlsKeys } from './tls-keys.js';
import type { TlsSettings } from '../tls/pem.js';
import { readSpool } from './spool-config.js';

/** Keyed by the `send` command's option names, each absent when the file does not set it. */
export interface SendSettings extends TlsSettings {
  /** Receiver address: host:port (mTLS unless insecure) or unix:///path. */
  target?: string;
  /** Transmitter ring size in bytes. */
  bufferBytes?: number;
  /** Where to serve Prometheus metrics (host:port). */
  metricsListen?: string;
  /** Where to accept Falco's http_output POSTs (host:port). */
  httpListen?: string;
  /** The gRPC output's spool (falco_grpc_output.send.spool). */
  spool?: string;
  spoolMaxBytes?: number;
  spoolWhenFull?: string;
  spoolFsync?: string;
}

export function parseSendSettings(config: ConfigDocument, report: Report): SendSettings {
  const send = config.root.section(PROJECT_SECTION).section('send');
  const settings: SendSettings = {
    target: send.value('target', checkGrpcAddress),
    ...readTlsKeys(send),
    bufferBytes: send.value('buffer_bytes', checkSize),
    metricsListen: send.value('metrics_listen', checkHostPort),
    httpListen: send.value('http_listen', checkHostPort),
  };
  const spool = readSpool(send);
  if (spool) {
    Object.assign(settings, { spool: spool.dir, spoolMaxBytes: spool.maxBytes, spoolWhenFull: spool.whenFull, spoolFsync: spool.fsync });
  }
  send.finish('error', report);
  return definedOnly(settings);
}
