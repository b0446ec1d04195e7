// The NATS settings of `receive --nats` and `consume`: the keys of a config file's nats: section
// (falco_grpc_output.receive.nats), keyed by the commands' option names (--nats, --nats-stream,
// ...) so that a file's values fill the flags left unset, and how they become BusOptions.

import type { BusOptions } from '../bus/link.js';
import { checkInteger, checkPositiveInteger, checkString, describe } from './checks.js';
import { ConfigError, definedOnly, type ConfigSection } from './section.js';

export interface NatsOptionValues {
  /** Server URLs. */
  nats?: string[];
  natsStream?: string;
  natsSubjectPrefix?: string;
  natsCreds?: string;
  natsUser?: string;
  natsPassword?: string;
  natsToken?: string;
  natsTlsCa?: string;
  natsTlsCert?: string;
  natsTlsKey?: string;
  natsReplicas?: number;
  natsMaxAgeMs?: number;
  natsMaxBytes?: number;
  natsDuplicateWindowMs?: number;
  natsPublishWindow?: number;
}

/** A NATS server URL: nats://, tls:// or a bare host:port. */
export function checkNatsUrl(value: unknown): string {
  const text = checkString(value).trim();
  if (!/^((nats|tls):\/\/)?([^\s:/@]+(:[^\s@/]*)?@)?(\[[^\]]+\]|[^\s:/\[\]]+)(:\d{1,5})?\/?$/.test(text)) {
    throw new TypeError(`expected a NATS server URL (nats://host:4222, tls://host:4222 or host:port), got ${describe(value)}`);
  }
  return text;
}

/** A comma-separated list of URLs, as --nats takes them. */
export function splitNatsUrls(value: string): string[] {
  return value.split(',').map((u) => u.trim()).filter((u) => u !== '').map(checkNatsUrl);
}

/** Reads a nats: section (servers may be a list or a comma-separated string). */
export function readNatsKeys(nats: ConfigSection): NatsOptionValues {
  // A list, or one string of comma-separated URLs as --nats takes them.
  const servers = nats.list('servers', (v) => splitNatsUrls(checkString(v)))?.flat();
  const values = definedOnly({
    nats: servers,
    natsStream: nats.string('stream'),
    natsSubjectPrefix: nats.string('subject_prefix'),
    natsCreds: nats.filePath('creds_file'),
    natsUser: nats.string('user'),
    natsPassword: nats.string('password'),
    natsToken: nats.string('token'),
    natsTlsCa: nats.filePath('tls_ca'),
    natsTlsCert: nats.filePath('tls_cert'),
    natsTlsKey: nats.filePath('tls_key'),
    natsReplicas: nats.value('replicas', checkPositiveInteger),
    natsMaxAgeMs: nats.value('max_age_ms', checkPositiveInteger),
    natsMaxBytes: nats.value('max_bytes', (v) => checkInteger(v, 1)),
    natsDuplicateWindowMs: nats.value('duplicate_window_ms', checkPositiveInteger),
    natsPublishWindow: nats.value('publish_window', checkPositiveInteger),
  });
  nats.finish('error', () => {});
  return values;
}

/** BusOptions from settled values, or undefined when no server is given (single-process mode). */
export function busOptionsFrom(v: NatsOptionValues): BusOptions | undefined {
  if (!v.nats || v.nats.length === 0) {
    const stray = (Object.keys(v) as Array<keyof NatsOptionValues>).filter((k) => k.startsWith('nats') && k !== 'nats' && v[k] !== undefined);
    if (stray.length > 0) throw new ConfigError(`NATS settings given (${stray.join(', ')}) but no --nats server (or nats.servers)`);
    return undefined;
  }
  if ((v.natsTlsCert === undefined) !== (v.natsTlsKey === undefined)) {
    throw new ConfigError('NATS TLS: --nats-tls-cert and --nats-tls-key go together');
  }
  const tls = v.natsTlsCa !== undefined || v.natsTlsCert !== undefined ? definedOnly({ ca: v.natsTlsCa, cert: v.natsTlsCert, key: v.natsTlsKey }) : undefined;
  return definedOnly({
    servers: v.nats,
    stream: v.natsStream,
    subjectPrefix: v.natsSubjectPrefix,
    credsFile: v.natsCreds,
    user: v.natsUser,
    password: v.natsPassword,
    token: v.natsToken,
    tls,
    replicas: v.natsReplicas,
    maxAgeMs: v.natsMaxAgeMs,
    maxBytes: v.natsMaxBytes,
    duplicateWindowMs: v.natsDuplicateWindowMs,
    publishWindow: v.natsPublishWindow,
  });
}
