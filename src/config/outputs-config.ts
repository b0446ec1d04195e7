// Falco's classic output keys (json_output, stdout_output, file_output, syslog_output,
// program_output, http_output, ...) as the option types of src/outputs/. A channel is present
// only when enabled. Unknown keys inside these sections are errors: a typo such as
// file_output.filenme would otherwise silently send alerts nowhere.
//
// Defaults when a key is absent (Falco's, from its configuration code and falco.yaml):
//   json_output false; json_include_output_property, json_include_tags_property and
//   json_include_output_fields_property true; buffered_outputs false;
//   stdout_output.enabled true (Falco's falco.yaml and Falco without a config file);
//   syslog_output.enabled false (Falco's code default; its shipped falco.yaml turns it on, but a
//   receiver should not start writing to /dev/log because a key was left out);
//   file_output, program_output, http_output disabled; keep_alive false everywhere (Falco's);
//   http_output.user_agent "falcosecurity/falco"; insecure false; mtls false, and with mtls
//   client_cert /etc/ssl/certs/client.crt, client_key /etc/ssl/certs/client.key.
//   http_output.ca_path is left unset when absent (Node's CA store; Falco's default is the
//   system's /etc/ssl/certs). This project's extra keys are left unset, so the outputs'
//   own defaults apply.

import { checkOneOf, checkPositiveInteger, checkString, describe, isHostPort } from './checks.js';
import type { ConfigDocument } from './load.js';
import { SYSLOG_FACILITIES } from '../destinations/channels/syslog/syslog-format.js';
import { FALCO_HTTP_CLIENT_CERT, FALCO_HTTP_CLIENT_KEY } from '../destinations/channels/http/http.js';
import { definedOnly, type ConfigSection, type Report } from './section.js';
import type { FormatOptions } from '../codec/format.js';
import type { FileOutputOptions } from '../destinations/channels/file/index.js';
import type { HttpOutputOptions } from '../destinations/channels/http/index.js';
import type { ProgramOutputOptions } from '../destinations/channels/program/index.js';
import type { StdoutOutputOptions } from '../destinations/channels/stdout/index.js';
import type { SyslogOutputOptions } from '../destinations/channels/syslog/index.js';
import type { SpoolOptions } from '../spool/options.js';
import { readSpool } from './spool-config.js';

/** A channel's options and, when its section has a `spool:` map, its own spool. */
type WithSpool<T> = T & { spool?: SpoolOptions };

export interface OutputsConfig {
  /** Every field set. */
  format: Required<FormatOptions>;
  bufferedOutputs: boolean;
  stdout?: WithSpool<StdoutOutputOptions>;
  file?: WithSpool<FileOutputOptions>;
  syslog?: WithSpool<SyslogOutputOptions>;
  program?: WithSpool<ProgramOutputOptions>;
  http?: WithSpool<HttpOutputOptions>;
}


export function parseOutputsConfig(config: ConfigDocument, report: Report = () => {}): OutputsConfig {
  const root = config.root;
  if (root.boolean('json_include_message_property')) {
    report('warning', `${root.where('json_include_message_property')}: json_include_message_property: not supported; alerts are written without "message"`);
  }
  const outputs: OutputsConfig = {
    format: {
      json: root.boolean('json_output') ?? false,
      includeOutput: root.boolean('json_include_output_property') ?? true,
      includeTags: root.boolean('json_include_tags_property') ?? true,
      includeOutputFields: root.boolean('json_include_output_fields_property') ?? true,
    },
    bufferedOutputs: root.boolean('buffered_outputs') ?? false,
  };
  const stdout = channel(root, 'stdout_output', true, [], () => ({}));
  const file = channel(root, 'file_output', false, ['filename'], (s) => ({
    filename: s.filePath('filename') ?? '',
    keepAlive: s.boolean('keep_alive') ?? false,
  }));
  const syslog = channel(root, 'syslog_output', false, [], readSyslog);
  const program = channel(root, 'program_output', false, ['program'], (s) => ({
    program: s.filePath('program') ?? '',
    keepAlive: s.boolean('keep_alive') ?? false,
  }));
  const http = channel(root, 'http_output', false, ['url'], (s, enabled) => readHttp(s, enabled, report));
  return {
    ...outputs,
    ...(stdout && { stdout }),
    ...(file && { file }),
    ...(syslog && { syslog }),
    ...(program && { program }),
    ...(http && { http }),
  };
}

/**
 * One channel section: every key is read and checked even when the channel is disabled, so a
 * typo is caught before someone enables it; unknown keys are reported before missing ones, as
 * a misspelt required key is the likelier story. Returns the options only when enabled.
 * `required` keys must be non-empty when enabled ("" counts as missing, as in Falco).
 */
function channel<T>(
  root: ConfigSection,
  key: string,
  enabledByDefault: boolean,
  required: readonly string[],
  read: (s: ConfigSection, enabled: boolean) => T,
): WithSpool<T> | undefined {
  const section = root.section(key);
  const enabled = section.boolean('enabled') ?? enabledByDefault;
  const options = read(section, enabled) as WithSpool<T>;
  const spool = readSpool(section);
  if (spool) options.spool = spool;
  section.finish('error', () => {});
  if (!enabled) return undefined;
  for (const name of required) {
    if (section.filePath(name) === undefined) section.fail(name, `required when ${section.path}.enabled is true`);
  }
  return options;
}

function readSyslog(s: ConfigSection): SyslogOutputOptions {
  return definedOnly({
    address: s.value('address', checkSyslogAddress),
    format: s.value('format', (v) => checkOneOf(v, ['rfc5424', 'rfc3164'] as const)),
    facility: s.value('facility', (v) => checkOneOf(typeof v === 'string' ? v.toLowerCase() : v, SYSLOG_FACILITIES)),
    appName: s.value('app_name', checkAppName),
  });
}

function readHttp(s: ConfigSection, enabled: boolean, report: Report): HttpOutputOptions {
  const url = s.filePath('url') === undefined ? '' : s.value('url', checkHttpUrl)!;
  const caCert = s.filePath('ca_cert');
  const caBundle = s.filePath('ca_bundle');
  if (caCert && caBundle && caCert !== caBundle) {
    s.fail('ca_bundle', `names a different file than ca_cert (${caCert}); give one CA file`);
  }
  const mtls = s.boolean('mtls') ?? false;
  const clientCert = s.filePath('client_cert');
  const clientKey = s.filePath('client_key');
  // Falco keys with no counterpart here: checked, and a warning when they ask for something.
  for (const key of ['echo', 'compress_uploads'] as const) {
    if (s.boolean(key) && enabled) report('warning', `${s.where(key)}: ${s.keyPath(key)}: not supported; ignored`);
  }
  s.value('max_consecutive_timeouts', checkPositiveInteger); // Falco's; max_attempts is ours
  return definedOnly({
    url,
    userAgent: s.string('user_agent') ?? 'falcosecurity/falco',
    insecure: s.boolean('insecure') ?? false,
    caCert: caCert ?? caBundle,
    caPath: s.filePath('ca_path'),
    mtls,
    clientCert: mtls ? (clientCert ?? FALCO_HTTP_CLIENT_CERT) : undefined,
    clientKey: mtls ? (clientKey ?? FALCO_HTTP_CLIENT_KEY) : undefined,
    keepAlive: s.boolean('keep_alive') ?? false,
    maxConcurrency: s.value('max_concurrency', checkPositiveInteger),
    maxAttempts: s.value('max_attempts', checkPositiveInteger),
    timeoutMs: s.value('timeout_ms', checkPositiveInteger),
  });
}

function checkHttpUrl(value: unknown): string {
  const text = checkString(value);
  let protocol: string;
  try {
    protocol = new URL(text).protocol;
  } catch {
    throw new TypeError(`expected an http:// or https:// URL, got ${describe(value)}`);
  }
  if (protocol !== 'http:' && protocol !== 'https:') throw new TypeError(`expected an http:// or https:// URL, got ${describe(value)}`);
  return text;
}

function checkSyslogAddress(value: unknown): string {
  const text = checkString(value);
  const m = /^(unix|udp|tcp):\/\/(.*)$/.exec(text);
  const ok = m !== null && (m[1] === 'unix' ? m[2]!.startsWith('/') : isHostPort(m[2]!));
  if (!ok) throw new TypeError(`expected unix:///path, udp://host:port or tcp://host:port, got ${describe(value)}`);
  return text;
}

/** RFC 5424 APP-NAME: 1-48 printable ASCII characters, no spaces. */
function checkAppName(value: unknown): string {
  const text = checkString(value);
  if (!/^[\x21-\x7e]{1,48}$/.test(text)) throw new TypeError(`expected 1-48 printable characters without spaces, got ${describe(value)}`);
  return text;
}
