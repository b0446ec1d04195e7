// What `receive` takes from a config file, and how every source of settings becomes one typed
// ReceiveSettings. A falco.yaml from Falco <= 0.43 configures the receiver unchanged: its grpc:
// server section becomes a listen address with Falco's TLS files, grpc_output.enabled turns the
// subscription API on or off, and priority is the minimum priority. This project's own keys live
// in falco_grpc_output.receive and win over Falco's in the same file.

import { checkGrpcAddress, checkHostPort, checkInteger, checkPositiveInteger, checkPriority, checkSize, isUnixAddress } from './checks.js';
import { PROJECT_SECTION } from './falco-keys.js';
import type { ConfigDocument } from './load.js';
import { ConfigError, definedOnly, type Report } from './section.js';
import { readTlsKeys } from './tls-keys.js';
import type { TlsOptions, TlsSettings } from '../tls/pem.js';
import type { BusOptions } from '../bus/link.js';
import { busOptionsFrom, readNatsKeys, type NatsOptionValues } from './nats-config.js';
import { checkConsoleListen, consoleAccessProblem, parseConsoleAddress } from './console-address.js';

/** Falco's grpc.bind_address when grpc.enabled is true and the address is not given. */
export const FALCO_GRPC_BIND_ADDRESS = '0.0.0.0:5060';

/** Falco's TLS files for a TCP grpc.bind_address whose private_key/cert_chain/root_certs are not given. */
export const FALCO_GRPC_TLS_FILES = {
  key: '/etc/falco/certs/server.key',
  cert: '/etc/falco/certs/server.crt',
  ca: '/etc/falco/certs/ca.crt',
} as const;

export const RECEIVE_DEFAULTS = {
  listen: ['localhost:50051'],
  maxMessageBytes: 16 * 1024 * 1024,
  subscriberQueue: 50_000,
  history: 10_000,
  /** Debug: every alert passes. */
  minPriority: 7,
  /** Recent alerts' bytes kept for get and for subscribers that fall behind (one shared buffer). */
  historyBytes: 32 * 1024 * 1024,
  maxSubscribers: 100,
  maxProducers: 100_000,
  maxConnectionsPerPeer: 64,
  /** Seconds. */
  handshakeTimeout: 10,
  /** Seconds. */
  firstFrameTimeout: 10,
} as const;

/**
 * The receive settings of one source (flags, environment or file) before defaults, keyed by the
 * `receive` command's option names so that a file's values can fill the command's options.
 */
export interface ReceiveOptionValues extends TlsSettings, NatsOptionValues {
  listen?: string[];
  outputFile?: string;
  discard?: boolean;
  maxMessageBytes?: number;
  subscriberQueue?: number;
  history?: number;
  /** Falco priority number, 0 (Emergency) to 7 (Debug). */
  minPriority?: number;
  metricsListen?: string;
  historyBytes?: number;
  maxSubscribers?: number;
  maxProducers?: number;
  maxConnections?: number;
  maxConnectionsPerPeer?: number;
  handshakeTimeout?: number;
  firstFrameTimeout?: number;
  /** Web console (docs/console.md): address, token file, client certificates required. */
  uiListen?: string;
  uiTokenFile?: string;
  uiClientCerts?: boolean;
  /** File only (grpc_output.enabled): serve Falco's subscription API (falco.outputs.service). */
  subscriptions?: boolean;
  /** File only: grpc.bind_address when enabled and TCP; while it is listened on, Falco's TLS files fill what is not given. */
  falcoTcpBind?: string;
}

export interface ReceiveSettings {
  listen: string[];
  /** Server certificate and key, and the CA that client certificates must chain to (file paths or PEM). */
  tls?: TlsOptions;
  insecure: boolean;
  /** Append Falco JSON lines here instead of stdout. */
  outputFile?: string;
  discard: boolean;
  maxMessageBytes: number;
  /** Each subscriber's own queue, in alerts; a subscriber that falls further behind loses its oldest. */
  subscriberQueue: number;
  /** Recent alerts kept for `get` (Falco's subscription API). */
  history: number;
  /** Alerts less severe than this Falco priority number are acknowledged but not passed on (7 = Debug keeps all). */
  minPriority: number;
  /** Serve Falco's subscription API (grpc_output.enabled). */
  subscriptions: boolean;
  /** Where to serve Prometheus metrics (host:port), if anywhere. */
  metricsListen?: string;
  /** With --nats: the bus the receiver relays to (no output file then). */
  nats?: BusOptions;
  /** Bytes of recent alerts kept for get and for subscribers that fall behind. */
  historyBytes: number;
  /** Subscription streams (sub and get) open at once. */
  maxSubscribers: number;
  /** Producers whose sequence state is kept; the least recently seen is forgotten beyond. */
  maxProducers: number;
  /** Connections open at once; undefined: the receiver's default from the open-file limit. */
  maxConnections?: number;
  maxConnectionsPerPeer: number;
  /** Seconds a TLS handshake may take. */
  handshakeTimeout: number;
  /** Seconds until a connection's first HTTP/2 frame. */
  firstFrameTimeout: number;
  /** The web console, if asked for; its access already checked (loopback, or TLS and a token or client certificates). */
  ui?: UiSettings;
}

export interface UiSettings {
  listen: string;
  tokenFile?: string;
  clientCerts: boolean;
}

/** Reads grpc:, grpc_output:, priority and falco_grpc_output.receive from a config file. */
export function readReceiveConfig(config: ConfigDocument, report: Report): ReceiveOptionValues {
  const root = config.root;
  const grpc = root.section('grpc');
  const grpcEnabled = grpc.boolean('enabled') ?? false;
  const bindAddress = grpc.value('bind_address', checkGrpcAddress) ?? FALCO_GRPC_BIND_ADDRESS;
  const threadiness = grpc.value('threadiness', (v) => checkInteger(v, 0));
  const falcoTls = { key: grpc.filePath('private_key'), cert: grpc.filePath('cert_chain'), ca: grpc.filePath('root_certs') };
  // A misspelt key here is an error, as in our own sections: grpc.bind_adress would otherwise
  // leave the receiver on Falco's default, every interface (0.0.0.0:5060).
  grpc.finish('error', report);
  if (grpcEnabled && threadiness !== undefined) {
    report('note', `${grpc.where('threadiness')}: grpc.threadiness is accepted but unused: Node serves gRPC on one event loop`);
  }
  const grpcOutput = root.section('grpc_output');
  const subscriptions = grpcOutput.boolean('enabled');
  grpcOutput.finish('error', report);
  const falcoPriority = root.value('priority', checkPriority);

  const project = root.section(PROJECT_SECTION);
  const receive = project.section('receive');
  project.section('send'); // `send` reads it
  project.section('consume'); // `consume` reads it
  project.finish('error', report);
  const own: ReceiveOptionValues = {
    listen: receive.list('listen', checkGrpcAddress),
    ...readTlsKeys(receive),
    outputFile: receive.filePath('output_file'),
    discard: receive.boolean('discard'),
    maxMessageBytes: receive.value('max_message_bytes', checkSize),
    subscriberQueue: receive.value('subscriber_queue', checkPositiveInteger),
    history: receive.value('history', checkPositiveInteger),
    minPriority: receive.value('min_priority', checkPriority),
    metricsListen: receive.value('metrics_listen', checkHostPort),
    ...readNatsKeys(receive.section('nats')),
    historyBytes: receive.value('history_bytes', checkPositiveInteger),
    maxSubscribers: receive.value('max_subscribers', checkPositiveInteger),
    maxProducers: receive.value('max_producers', checkPositiveInteger),
    maxConnections: receive.value('max_connections', checkPositiveInteger),
    maxConnectionsPerPeer: receive.value('max_connections_per_peer', checkPositiveInteger),
    handshakeTimeout: receive.value('handshake_timeout', checkPositiveInteger),
    firstFrameTimeout: receive.value('first_frame_timeout', checkPositiveInteger),
    uiListen: receive.value('ui_listen', checkConsoleListen),
    uiTokenFile: receive.filePath('ui_token_file'),
    uiClientCerts: receive.boolean('ui_client_certs'),
  };
  receive.finish('error', report);

  // Falco's server section counts only when enabled, as in Falco. An address given twice is bound once.
  const listen = [...new Set([...(own.listen ?? []), ...(grpcEnabled ? [bindAddress] : [])])];
  return definedOnly({
    ...own,
    listen: listen.length > 0 ? listen : undefined,
    tlsCa: own.tlsCa ?? (grpcEnabled ? falcoTls.ca : undefined),
    tlsCert: own.tlsCert ?? (grpcEnabled ? falcoTls.cert : undefined),
    tlsKey: own.tlsKey ?? (grpcEnabled ? falcoTls.key : undefined),
    minPriority: own.minPriority ?? falcoPriority,
    subscriptions,
    falcoTcpBind: grpcEnabled && !isUnixAddress(bindAddress) ? bindAddress : undefined,
  });
}

/** Where each TLS file can be given, for the message about a missing one. */
const TLS_SOURCES = {
  ca: { flag: '--tls-ca', env: 'FALCO_GRPC_OUTPUT_TLS_CA', keys: 'falco_grpc_output.receive.tls_ca or grpc.root_certs' },
  cert: { flag: '--tls-cert', env: 'FALCO_GRPC_OUTPUT_TLS_CERT', keys: 'falco_grpc_output.receive.tls_cert or grpc.cert_chain' },
  key: { flag: '--tls-key', env: 'FALCO_GRPC_OUTPUT_TLS_KEY', keys: 'falco_grpc_output.receive.tls_key or grpc.private_key' },
} as const;

function missingTlsMessage(missing: ReadonlyArray<keyof typeof TLS_SOURCES>): string {
  const sources = missing.map((k) => TLS_SOURCES[k]);
  return (
    `mTLS needs a CA, a certificate and a key; missing ${sources.map((s) => s.flag).join(', ')} ` +
    `(or ${sources.map((s) => s.env).join(', ')}; in a config file ${sources.map((s) => s.keys).join('; ')})`
  );
}

/**
 * The settings `receive` runs with, from option values whose precedence is already settled
 * (flags > environment > file): defaults filled, TLS put together, and the combinations that
 * cannot work refused before anything listens. Pure.
 */
export function resolveReceiveSettings(values: ReceiveOptionValues): ReceiveSettings {
  const listen = values.listen && values.listen.length > 0 ? [...values.listen] : [...RECEIVE_DEFAULTS.listen];
  const insecure = values.insecure ?? false;
  const given = { ca: values.tlsCa, cert: values.tlsCert, key: values.tlsKey };
  const falcoFiles = values.falcoTcpBind !== undefined && listen.includes(values.falcoTcpBind) && !insecure;
  const files = {
    ca: given.ca ?? (falcoFiles ? FALCO_GRPC_TLS_FILES.ca : undefined),
    cert: given.cert ?? (falcoFiles ? FALCO_GRPC_TLS_FILES.cert : undefined),
    key: given.key ?? (falcoFiles ? FALCO_GRPC_TLS_FILES.key : undefined),
  };
  let tls: TlsOptions | undefined;
  if (files.ca || files.cert || files.key) {
    const missing = (['ca', 'cert', 'key'] as const).filter((k) => !files[k]);
    if (missing.length > 0) {
      throw new ConfigError(missingTlsMessage(missing));
    }
    tls = { ca: files.ca!, cert: files.cert!, key: files.key! };
  }
  const tcp = listen.find((addr) => !isUnixAddress(addr));
  if (tcp && !tls && !insecure) {
    throw new ConfigError(`${tcp} is a TCP address: give a CA, a certificate and a key for mTLS (--tls-ca/--tls-cert/--tls-key or the config keys), or --insecure for plaintext`);
  }
  const nats = busOptionsFrom(values);
  if (nats && (values.outputFile !== undefined || values.discard)) {
    throw new ConfigError(`--nats relays alerts to the bus; --output-file and --discard do not go with it (read the stream with consume --config)`);
  }
  return {
    nats,
    listen,
    tls,
    insecure,
    ui: resolveUi(values, tls !== undefined),
    outputFile: values.outputFile,
    discard: values.discard ?? false,
    maxMessageBytes: values.maxMessageBytes ?? RECEIVE_DEFAULTS.maxMessageBytes,
    subscriberQueue: values.subscriberQueue ?? RECEIVE_DEFAULTS.subscriberQueue,
    history: values.history ?? RECEIVE_DEFAULTS.history,
    minPriority: values.minPriority ?? RECEIVE_DEFAULTS.minPriority,
    subscriptions: values.subscriptions ?? true,
    metricsListen: values.metricsListen,
    historyBytes: values.historyBytes ?? RECEIVE_DEFAULTS.historyBytes,
    maxSubscribers: values.maxSubscribers ?? RECEIVE_DEFAULTS.maxSubscribers,
    maxProducers: values.maxProducers ?? RECEIVE_DEFAULTS.maxProducers,
    maxConnections: values.maxConnections,
    maxConnectionsPerPeer: values.maxConnectionsPerPeer ?? RECEIVE_DEFAULTS.maxConnectionsPerPeer,
    handshakeTimeout: values.handshakeTimeout ?? RECEIVE_DEFAULTS.handshakeTimeout,
    firstFrameTimeout: values.firstFrameTimeout ?? RECEIVE_DEFAULTS.firstFrameTimeout,
  };
}

/** The console's settings, refused here (before anything listens) when its address would be open to others. */
function resolveUi(values: ReceiveOptionValues, tls: boolean): UiSettings | undefined {
  if (values.uiListen === undefined) {
    const orphan = values.uiTokenFile !== undefined ? '--ui-token-file' : values.uiClientCerts ? '--ui-client-certs' : null;
    if (orphan) throw new ConfigError(`${orphan} is for the web console: give --ui-listen (or falco_grpc_output.receive.ui_listen) too`);
    return undefined;
  }
  const clientCerts = values.uiClientCerts ?? false;
  const problem = consoleAccessProblem(parseConsoleAddress(values.uiListen), { tls, token: values.uiTokenFile !== undefined, clientCerts }, `--ui-listen ${values.uiListen}`);
  if (problem) throw new ConfigError(problem);
  return { listen: values.uiListen, tokenFile: values.uiTokenFile, clientCerts };
}
