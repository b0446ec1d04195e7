// falco.yaml-style configuration: the loader, receive's settings (a Falco <= 0.43 falco.yaml
// unchanged, precedence flags > environment > file > defaults), the classic outputs' section
// parser and send's section. Files are real files in temp dirs; the CLI as a child process
// reading them is in config-cli.test.ts.

import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { loadConfigFile, parseConfigText } from '../dist/src/config/load.js';
import { checkTopLevelKeys } from '../dist/src/config/falco-keys.js';
import { readReceiveConfig, resolveReceiveSettings, type ReceiveSettings } from '../dist/src/config/receive-config.js';
import { parseOutputsConfig } from '../dist/src/config/outputs-config.js';
import { parseSendSettings } from '../dist/src/config/send-config.js';
import { receiveCommand, receiveSettingsFromCommand } from '../dist/src/cli/receive.js';
import { falcoYaml, writeConfig } from './helpers/config-files.js';
import { tempDir } from './helpers/pki.js';

/** The receiver's limits when nothing sets them. */
const LIMIT_DEFAULTS = {
  historyBytes: 32 * 1024 * 1024,
  maxSubscribers: 100,
  maxProducers: 100_000,
  maxConnections: undefined,
  maxConnectionsPerPeer: 64,
  handshakeTimeout: 10,
  firstFrameTimeout: 10,
};

interface Reported {
  notes: string[];
  warnings: string[];
  report: (level: 'note' | 'warning', message: string) => void;
}

function reports(): Reported {
  const r: Reported = { notes: [], warnings: [], report: (level, message) => (level === 'note' ? r.notes : r.warnings).push(message) };
  return r;
}

/** What `receive` would run with for these flags, environment and config file, in this process. */
function receiveSettingsFor(args: string[], env: Record<string, string> = {}, r = reports()): ReceiveSettings {
  const saved = new Map(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    const cmd = receiveCommand()
      .action(() => {}) // parse only: the real action would start a receiver
      .exitOverride()
      .configureOutput({ writeErr: () => {} });
    cmd.parse(args, { from: 'user' });
    return receiveSettingsFromCommand(cmd, r.report);
  } finally {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

function receiveFromText(text: string, r = reports()): ReceiveSettings {
  const config = parseConfigText(text, 'test.yaml');
  checkTopLevelKeys(config, r.report);
  return resolveReceiveSettings(readReceiveConfig(config, r.report));
}

describe('loading a config file', () => {
  it('reports a YAML syntax error with the file, line and column', () => {
    const file = writeConfig('grpc:\n  enabled: true\n bind_address: x\n');
    expect(() => loadConfigFile(file)).toThrow(`${file}:3:1: YAML syntax error:`);
  });

  it('reports a duplicate key as a syntax error at its line', () => {
    expect(() => parseConfigText('priority: debug\njson_output: true\npriority: info\n', 'dup.yaml')).toThrow(/^dup\.yaml:3:1: YAML syntax error: Map keys must be unique/);
  });

  it('refuses a file whose top level is not a map, and names a file it cannot read', () => {
    expect(() => parseConfigText('- a\n- b\n', 'list.yaml')).toThrow('list.yaml:1: expected a map of settings at the top level');
    const missing = join(tempDir(), 'nope.yaml');
    expect(() => loadConfigFile(missing)).toThrow(`cannot read config file ${missing}: ENOENT`);
  });

  it('refuses a file over 4 MiB before parsing it (a pipe: config-cli.test.ts)', () => {
    // 50 MB of a valid-looking falco.yaml: parsing it would take minutes and gigabytes.
    const big = writeConfig(`rules_file: [${'"/etc/falco/rules.yaml", '.repeat(2_000_000)}"x"]\n`);
    expect(() => loadConfigFile(big)).toThrow(/^config file .*\.yaml is 4\d\.\d MiB; files over 4 MiB are refused/);
    // Just under the limit still loads.
    const fine = writeConfig(`# ${'x'.repeat(4 * 1024 * 1024 - 100)}\npriority: debug\n`);
    expect(readReceiveConfig(loadConfigFile(fine), reports().report)).toEqual({ minPriority: 7 });
  });

  it('takes sizes with units wherever it asks for bytes', () => {
    const sizes = (v: string) => parseSendSettings(parseConfigText(`falco_grpc_output:\n  send:\n    buffer_bytes: ${v}\n`, 's.yaml'), reports().report).bufferBytes;
    expect(sizes('1048576')).toBe(1048576);
    expect(sizes('1MiB')).toBe(1048576);
    expect(sizes('"512 KiB"')).toBe(524288);
    expect(sizes('2gib')).toBe(2 * 1024 ** 3);
    expect(sizes('1.5M')).toBe(1_500_000);
    expect(sizes('64k')).toBe(64_000);
    const receive = readReceiveConfig(parseConfigText('falco_grpc_output:\n  receive:\n    max_message_bytes: 16MiB\n', 'r.yaml'), reports().report);
    expect(receive.maxMessageBytes).toBe(16 * 1024 * 1024);
  });

  it('takes an empty file as no settings', () => {
    const r = reports();
    expect(readReceiveConfig(parseConfigText('', 'e.yaml'), r.report)).toEqual({});
    expect(readReceiveConfig(parseConfigText('# nothing here\n', 'e.yaml'), r.report)).toEqual({});
    expect(r.warnings).toEqual([]);
  });
});

describe("receive's settings from a falco.yaml", () => {
  it('takes a Falco 0.43 falco.yaml unchanged: grpc.bind_address, grpc_output, priority; no warnings for Falco keys', () => {
    const r = reports();
    const settings = receiveFromText(falcoYaml('unix:///run/falco/falco.sock'), r);
    expect(settings).toEqual({
      listen: ['unix:///run/falco/falco.sock'],
      tls: undefined,
      insecure: false,
      outputFile: undefined,
      discard: false,
      maxMessageBytes: 16 * 1024 * 1024,
      subscriberQueue: 50_000,
      history: 10_000,
      minPriority: 5, // priority: notice
      subscriptions: true,
      metricsListen: undefined,
      ...LIMIT_DEFAULTS,
    });
    expect(r.warnings).toEqual([]);
    expect(r.notes).toEqual([
      "test.yaml:4: config_files: Falco's includes are not followed; put the settings this program reads in test.yaml",
      'test.yaml:99: grpc.threadiness is accepted but unused: Node serves gRPC on one event loop',
    ]);
  });

  it("maps a TCP bind_address's private_key, cert_chain and root_certs to mTLS", () => {
    const text = falcoYaml('0.0.0.0:5060').replace(
      '  threadiness: 0\n',
      '  threadiness: 0\n  private_key: /pki/server.key\n  cert_chain: /pki/server.crt\n  root_certs: /pki/ca.crt\n',
    );
    expect(receiveFromText(text)).toMatchObject({
      listen: ['0.0.0.0:5060'],
      tls: { key: '/pki/server.key', cert: '/pki/server.crt', ca: '/pki/ca.crt' },
      insecure: false,
    });
  });

  it("uses Falco's default TLS files for a TCP bind_address without them, and Falco's default address", () => {
    expect(receiveFromText('grpc:\n  enabled: true\n')).toMatchObject({
      listen: ['0.0.0.0:5060'],
      tls: { key: '/etc/falco/certs/server.key', cert: '/etc/falco/certs/server.crt', ca: '/etc/falco/certs/ca.crt' },
    });
    // Not when plaintext was asked for, nor when the bind address is not listened on.
    expect(receiveFromText('grpc:\n  enabled: true\nfalco_grpc_output:\n  receive:\n    insecure: true\n').tls).toBeUndefined();
    expect(receiveSettingsFor(['--config', writeConfig('grpc:\n  enabled: true\n'), '--listen', 'unix:///tmp/fgo-only.sock']).tls).toBeUndefined();
  });

  it('ignores the grpc: section when grpc.enabled is not true, as Falco did', () => {
    const text = 'grpc:\n  bind_address: unix:///run/falco/falco.sock\n  private_key: /k\nfalco_grpc_output:\n  receive:\n    listen: [unix:///tmp/own.sock]\n';
    expect(receiveFromText(text)).toMatchObject({ listen: ['unix:///tmp/own.sock'], tls: undefined });
  });

  it('binds an address given both in listen and as grpc.bind_address once', () => {
    const text = 'grpc:\n  enabled: true\n  bind_address: unix:///tmp/same.sock\nfalco_grpc_output:\n  receive:\n    listen: [unix:///tmp/same.sock]\n';
    expect(receiveFromText(text).listen).toEqual(['unix:///tmp/same.sock']);
  });

  it('reads every falco_grpc_output.receive key; they win over Falco keys in the same file', () => {
    const text = [
      'priority: debug',
      'grpc_output:',
      '  enabled: false',
      'grpc:',
      '  enabled: true',
      '  bind_address: "[::1]:5060"',
      '  private_key: /falco/server.key',
      '  cert_chain: /falco/server.crt',
      '  root_certs: /falco/ca.crt',
      'falco_grpc_output:',
      '  receive:',
      '    listen: [unix:///tmp/a.sock, "localhost:6000"]',
      '    insecure: false',
      '    tls_ca: /own/ca.crt',
      '    tls_cert: /own/server.crt',
      '    output_file: /var/log/alerts.jsonl',
      '    discard: true',
      '    max_message_bytes: 1048576',
      '    subscriber_queue: "500"', // quoted numbers are numbers, as Falco's yaml-cpp reads them
      '    history: 20',
      '    min_priority: WARNING',
      '    metrics_listen: 127.0.0.1:9376',
      '    history_bytes: 1000000',
      '    max_subscribers: 7',
      '    max_producers: 5000',
      '    max_connections: 300',
      '    max_connections_per_peer: 3',
      '    handshake_timeout: 2',
      '    first_frame_timeout: 4',
      '',
    ].join('\n');
    expect(receiveFromText(text)).toEqual({
      listen: ['unix:///tmp/a.sock', 'localhost:6000', '[::1]:5060'],
      tls: { ca: '/own/ca.crt', cert: '/own/server.crt', key: '/falco/server.key' },
      insecure: false,
      outputFile: '/var/log/alerts.jsonl',
      discard: true,
      maxMessageBytes: 1048576,
      subscriberQueue: 500,
      history: 20,
      minPriority: 4,
      subscriptions: false,
      metricsListen: '127.0.0.1:9376',
      historyBytes: 1_000_000,
      maxSubscribers: 7,
      maxProducers: 5000,
      maxConnections: 300,
      maxConnectionsPerPeer: 3,
      handshakeTimeout: 2,
      firstFrameTimeout: 4,
    });
  });

  it("reads yaml-cpp's boolean words (yes/no/on/off) as Falco does", () => {
    expect(receiveFromText('grpc:\n  enabled: yes\n  bind_address: unix:///tmp/y.sock\ngrpc_output:\n  enabled: off\n')).toMatchObject({
      listen: ['unix:///tmp/y.sock'],
      subscriptions: false,
    });
  });

  it("warns about a top-level key that is neither Falco's nor ours, suggesting the section it is closest to", () => {
    const r = reports();
    receiveFromText(falcoYaml('unix:///tmp/t.sock', 'json_outptu: true\nfile_ouptut:\n  enabled: true\nsome_plugin_thing: 1\n'), r);
    expect(r.warnings).toEqual([
      expect.stringMatching(/^test\.yaml:\d+: json_outptu: unknown key \(neither Falco's nor falco_grpc_output's\); ignored; did you mean json_output\? \(as written, that section is not read\)$/),
      expect.stringMatching(/^test\.yaml:\d+: file_ouptut: unknown key .*; ignored; did you mean file_output\?/),
      // Far from every section we read: still ignored, with no guess.
      expect.stringMatching(/^test\.yaml:\d+: some_plugin_thing: unknown key \(neither Falco's nor falco_grpc_output's\); ignored$/),
    ]);
  });

  it("refuses a misspelt key inside Falco's grpc: and grpc_output: sections, suggesting the key meant", () => {
    // As a warning, grpc.bind_adress would leave the receiver on Falco's default: every interface, 0.0.0.0:5060.
    expect(() => receiveFromText('grpc:\n  enabled: true\n  bind_adress: "unix:///tmp/x.sock"\n')).toThrow(
      /^test\.yaml:3: grpc\.bind_adress: unknown key; did you mean bind_address\? \(known here: enabled, bind_address, threadiness, .*\)$/,
    );
    expect(() => receiveFromText(falcoYaml('unix:///tmp/t.sock').replace('  threadiness: 0\n', '  threadines: 4\n  threadiness: 0\n'))).toThrow(
      /grpc\.threadines: unknown key; did you mean threadiness\?/,
    );
    expect(() => receiveFromText('grpc_output:\n  enable: true\n')).toThrow(/^test\.yaml:2: grpc_output\.enable: unknown key; did you mean enabled\?/);
  });

  it('refuses an unknown key in falco_grpc_output and its receive section, naming it', () => {
    expect(() => receiveFromText('falco_grpc_output:\n  receive:\n    histroy: 5\n')).toThrow(
      /^test\.yaml:3: falco_grpc_output\.receive\.histroy: unknown key; did you mean history\? \(known here: listen, .*history.*\)$/,
    );
    expect(() => receiveFromText('falco_grpc_output:\n  recieve: {}\n')).toThrow(/^test\.yaml:2: falco_grpc_output\.recieve: unknown key/);
  });

  it.each([
    ['grpc:\n  enabled: true\n  bind_address: 42\n', 'test.yaml:3: grpc.bind_address: expected a string, got 42'],
    ['grpc:\n  enabled: true\n  bind_address: "unix://host/x.sock"\n', 'test.yaml:3: grpc.bind_address: expected host:port or unix:///path, got "unix://host/x.sock"'],
    ['grpc:\n  enabled: maybe\n', 'test.yaml:2: grpc.enabled: expected true or false, got "maybe"'],
    ['grpc:\n  threadiness: -1\n', 'test.yaml:2: grpc.threadiness: expected an integer >= 0, got -1'],
    ['grpc: [unix:///x]\n', 'test.yaml:1: grpc: expected a map of settings, got a list'],
    ['priority: loud\n', 'test.yaml:1: priority: expected a Falco priority (emergency, alert, critical, error, warning, notice, informational, debug), got "loud"'],
    ['falco_grpc_output:\n  receive:\n    history: abc\n', 'test.yaml:3: falco_grpc_output.receive.history: expected a positive integer, got "abc"'],
    ['falco_grpc_output:\n  receive:\n    subscriber_queue: 0\n', 'test.yaml:3: falco_grpc_output.receive.subscriber_queue: expected a positive integer, got 0'],
    ['falco_grpc_output:\n  receive:\n    max_message_bytes: 1.5\n', 'test.yaml:3: falco_grpc_output.receive.max_message_bytes: expected a size in bytes, a whole number or with a unit (e.g. 65536, 512KiB, 8MiB, 1GiB; k, M, G are powers of 1000), got 1.5'],
    ['falco_grpc_output:\n  receive:\n    max_message_bytes: 16 MeB\n', 'test.yaml:3: falco_grpc_output.receive.max_message_bytes: expected a size in bytes'],
    ['falco_grpc_output:\n  receive:\n    min_priority: urgent\n', 'test.yaml:3: falco_grpc_output.receive.min_priority: expected a Falco priority'],
    ['falco_grpc_output:\n  receive:\n    metrics_listen: 9376\n', 'test.yaml:3: falco_grpc_output.receive.metrics_listen: expected a string, got 9376'],
    ['falco_grpc_output:\n  receive:\n    metrics_listen: "localhost:99999"\n', 'test.yaml:3: falco_grpc_output.receive.metrics_listen: expected host:port'],
    ['falco_grpc_output:\n  receive:\n    listen:\n      - unix:///tmp/a.sock\n      - "nope"\n', 'test.yaml:5: falco_grpc_output.receive.listen[1]: expected host:port or unix:///path, got "nope"'],
  ])('refuses an invalid value naming file, line and key: %j', (text, message) => {
    expect(() => receiveFromText(text)).toThrow(message);
  });

  it('refuses half a TLS set, saying what is missing and where it can be given', () => {
    expect(() => receiveFromText('falco_grpc_output:\n  receive:\n    listen: ["localhost:1"]\n    tls_cert: /c\n')).toThrow(
      'mTLS needs a CA, a certificate and a key; missing --tls-ca, --tls-key (or FALCO_GRPC_OUTPUT_TLS_CA, FALCO_GRPC_OUTPUT_TLS_KEY; ' +
        'in a config file falco_grpc_output.receive.tls_ca or grpc.root_certs; falco_grpc_output.receive.tls_key or grpc.private_key)',
    );
  });
});

describe('resolveReceiveSettings (pure)', () => {
  it('fills the defaults and refuses a TCP address without TLS or insecure', () => {
    expect(() => resolveReceiveSettings({})).toThrow('localhost:50051 is a TCP address: give a CA, a certificate and a key for mTLS');
    expect(resolveReceiveSettings({ insecure: true })).toEqual({
      listen: ['localhost:50051'],
      tls: undefined,
      insecure: true,
      outputFile: undefined,
      discard: false,
      maxMessageBytes: 16 * 1024 * 1024,
      subscriberQueue: 50_000,
      history: 10_000,
      minPriority: 7,
      subscriptions: true,
      metricsListen: undefined,
      ...LIMIT_DEFAULTS,
    });
    expect(resolveReceiveSettings({ listen: ['unix:///tmp/r.sock'] }).listen).toEqual(['unix:///tmp/r.sock']);
  });
});

describe('precedence: flags > environment > file > defaults', () => {
  const fileText = [
    'priority: error',
    'grpc:',
    '  enabled: true',
    '  bind_address: unix:///tmp/fgo-from-file.sock',
    'falco_grpc_output:',
    '  receive:',
    '    history: 7',
    '    subscriber_queue: 70',
    '    insecure: true',
    '    output_file: /tmp/from-file.jsonl',
    '',
  ].join('\n');

  it('takes the file where neither a flag nor the environment sets a value', () => {
    expect(receiveSettingsFor(['--config', writeConfig(fileText)])).toMatchObject({
      listen: ['unix:///tmp/fgo-from-file.sock'],
      history: 7,
      subscriberQueue: 70,
      minPriority: 3,
      insecure: true,
      outputFile: '/tmp/from-file.jsonl',
    });
  });

  it('lets the environment win over the file, and flags over both', () => {
    const file = writeConfig(fileText);
    const env = {
      FALCO_GRPC_OUTPUT_LISTEN: 'unix:///tmp/fgo-env-a.sock,unix:///tmp/fgo-env-b.sock',
      FALCO_GRPC_OUTPUT_HISTORY: '8',
      FALCO_GRPC_OUTPUT_SUBSCRIBER_QUEUE: '80',
      FALCO_GRPC_OUTPUT_INSECURE: 'false',
      FALCO_GRPC_OUTPUT_MIN_PRIORITY: 'Critical',
    };
    expect(receiveSettingsFor(['--config', file], env)).toMatchObject({
      listen: ['unix:///tmp/fgo-env-a.sock', 'unix:///tmp/fgo-env-b.sock'],
      history: 8,
      subscriberQueue: 80,
      minPriority: 2,
      insecure: false, // "false" in the environment is false, and beats the file's true
      outputFile: '/tmp/from-file.jsonl',
    });
    expect(
      receiveSettingsFor(['--config', file, '--listen', 'unix:///tmp/fgo-flag.sock', '--history', '9', '--min-priority', 'info'], env),
    ).toMatchObject({ listen: ['unix:///tmp/fgo-flag.sock'], history: 9, subscriberQueue: 80, minPriority: 6 });
  });

  it('reads the config file named by FALCO_GRPC_OUTPUT_CONFIG', () => {
    expect(receiveSettingsFor([], { FALCO_GRPC_OUTPUT_CONFIG: writeConfig(fileText) }).history).toBe(7);
  });

  it('refuses bad flag and environment values, naming the flag or the variable', () => {
    expect(() => receiveSettingsFor(['--history', 'x', '--insecure'])).toThrow(/option '--history <n>' argument 'x' is invalid\. expected a positive integer, got "x"/);
    expect(() => receiveSettingsFor(['--insecure'], { FALCO_GRPC_OUTPUT_MIN_PRIORITY: 'loud' })).toThrow(
      /option '--min-priority <name>' value 'loud' from env 'FALCO_GRPC_OUTPUT_MIN_PRIORITY' is invalid/,
    );
    expect(() => receiveSettingsFor(['--listen', 'localhost'], {})).toThrow(/'--listen <addr>' argument 'localhost' is invalid\. expected host:port or unix:\/\/\/path/);
    expect(() => receiveSettingsFor([], { FALCO_GRPC_OUTPUT_INSECURE: 'maybe' })).toThrow('FALCO_GRPC_OUTPUT_INSECURE: expected true or false (1/0, yes/no, on/off), got "maybe"');
    expect(() => receiveSettingsFor(['--metrics-listen', 'nowhere'])).toThrow(/--metrics-listen \(or FALCO_GRPC_OUTPUT_METRICS_LISTEN\): expected host:port .*got "nowhere"/);
  });
});

describe('parseOutputsConfig', () => {
  const parse = (text: string, r = reports()) => parseOutputsConfig(parseConfigText(text, 'out.yaml'), r.report);

  it("applies Falco's defaults when the keys are absent: stdout only, text lines", () => {
    expect(parse('')).toEqual({
      format: { json: false, includeOutput: true, includeTags: true, includeOutputFields: true },
      bufferedOutputs: false,
      stdout: {},
    });
  });

  it("reads Falco 0.43's falco.yaml: JSON, stdout and syslog enabled, the rest disabled", () => {
    const r = reports();
    expect(parse(falcoYaml('unix:///x.sock'), r)).toEqual({
      format: { json: true, includeOutput: true, includeTags: true, includeOutputFields: true },
      bufferedOutputs: false,
      stdout: {},
      syslog: {},
    });
    expect(r.warnings).toEqual([]);
  });

  it('maps every key of every channel', () => {
    const text = `
json_output: true
json_include_output_property: false
json_include_tags_property: false
json_include_output_fields_property: false
buffered_outputs: true
stdout_output:
  enabled: false
file_output:
  enabled: true
  keep_alive: true
  filename: /var/log/falco/events.jsonl
syslog_output:
  enabled: true
  address: udp://logs.internal:514
  format: rfc3164
  facility: local3
  app_name: falco-grpc
program_output:
  enabled: true
  keep_alive: true
  program: logger -t falco
http_output:
  enabled: true
  url: https://sidekick.internal:2801/
  user_agent: my-agent/1.0
  insecure: true
  ca_cert: /etc/pki/ca.pem
  ca_path: /etc/pki/certs
  mtls: true
  client_cert: /etc/pki/client.crt
  client_key: /etc/pki/client.key
  keep_alive: true
  max_concurrency: 4
  max_attempts: 3
  timeout_ms: 2500
`;
    expect(parse(text)).toEqual({
      format: { json: true, includeOutput: false, includeTags: false, includeOutputFields: false },
      bufferedOutputs: true,
      file: { filename: '/var/log/falco/events.jsonl', keepAlive: true },
      syslog: { address: 'udp://logs.internal:514', format: 'rfc3164', facility: 'local3', appName: 'falco-grpc' },
      program: { program: 'logger -t falco', keepAlive: true },
      http: {
        url: 'https://sidekick.internal:2801/',
        userAgent: 'my-agent/1.0',
        insecure: true,
        caCert: '/etc/pki/ca.pem',
        caPath: '/etc/pki/certs',
        mtls: true,
        clientCert: '/etc/pki/client.crt',
        clientKey: '/etc/pki/client.key',
        keepAlive: true,
        maxConcurrency: 4,
        maxAttempts: 3,
        timeoutMs: 2500,
      },
    });
  });

  it("fills http_output's Falco defaults, takes ca_bundle as the CA file, and leaves absent keys out", () => {
    const http = parse('http_output:\n  enabled: true\n  url: http://localhost:2801\n  ca_cert: ""\n  ca_bundle: /etc/ssl/bundle.pem\n  mtls: true\n').http!;
    expect(http).toEqual({
      url: 'http://localhost:2801',
      userAgent: 'falcosecurity/falco',
      insecure: false,
      caCert: '/etc/ssl/bundle.pem',
      mtls: true,
      clientCert: '/etc/ssl/certs/client.crt',
      clientKey: '/etc/ssl/certs/client.key',
      keepAlive: false,
    });
    expect(Object.keys(http)).not.toContain('maxAttempts'); // absent, not undefined: the output's defaults apply
    expect(parse('file_output:\n  enabled: true\n  filename: /f\n').file).toEqual({ filename: '/f', keepAlive: false });
  });

  it.each([
    ['file_output:\n  enabled: true\n', 'out.yaml:1: file_output.filename: required when file_output.enabled is true'],
    ['file_output:\n  enabled: true\n  filename: ""\n', 'out.yaml:3: file_output.filename: required when file_output.enabled is true'],
    ['http_output:\n  enabled: true\n  user_agent: x\n', 'out.yaml:1: http_output.url: required when http_output.enabled is true'],
    ['program_output:\n  enabled: true\n', 'out.yaml:1: program_output.program: required when program_output.enabled is true'],
  ])('refuses an enabled channel without its required key: %j', (text, message) => {
    expect(() => parse(text)).toThrow(message);
  });

  it('refuses unknown keys in output sections, even disabled ones', () => {
    expect(() => parse('file_output:\n  enabled: true\n  filenme: /tmp/x\n')).toThrow(/^out\.yaml:3: file_output\.filenme: unknown key/);
    expect(() => parse('file_output:\n  enabled: false\n  filenme: /tmp/x\n')).toThrow(
      /^out\.yaml:3: file_output\.filenme: unknown key; did you mean filename\? \(known here: enabled, filename, keep_alive, spool\)$/,
    );
    expect(() => parse('stdout_output:\n  enabeld: true\n')).toThrow(/^out\.yaml:2: stdout_output\.enabeld: unknown key/);
    expect(() => parse('http_output:\n  url: http://x\n  retries: 3\n')).toThrow(/^out\.yaml:3: http_output\.retries: unknown key/);
  });

  it.each([
    ['json_output: "sure"\n', 'out.yaml:1: json_output: expected true or false, got "sure"'],
    ['stdout_output: true\n', 'out.yaml:1: stdout_output: expected a map of settings, got true'],
    ['syslog_output:\n  format: rfc9999\n', 'out.yaml:2: syslog_output.format: expected one of rfc5424, rfc3164, got "rfc9999"'],
    ['syslog_output:\n  facility: local9\n', 'out.yaml:2: syslog_output.facility: expected one of kern, user'],
    ['syslog_output:\n  address: 10.0.0.1:514\n', 'out.yaml:2: syslog_output.address: expected unix:///path, udp://host:port or tcp://host:port, got "10.0.0.1:514"'],
    ['syslog_output:\n  app_name: "two words"\n', 'out.yaml:2: syslog_output.app_name: expected 1-48 printable characters without spaces'],
    ['http_output:\n  url: ftp://x/\n', 'out.yaml:2: http_output.url: expected an http:// or https:// URL, got "ftp://x/"'],
    ['http_output:\n  url: http://x/\n  max_attempts: 0\n', 'out.yaml:3: http_output.max_attempts: expected a positive integer, got 0'],
    ['http_output:\n  url: http://x/\n  ca_cert: /a.pem\n  ca_bundle: /b.pem\n', 'out.yaml:4: http_output.ca_bundle: names a different file than ca_cert (/a.pem); give one CA file'],
  ])('refuses an invalid value naming file, line and key: %j', (text, message) => {
    expect(() => parse(text)).toThrow(message);
  });

  it("warns about Falco switches it does not support, only when they ask for something", () => {
    const r = reports();
    parse('json_include_message_property: true\nhttp_output:\n  enabled: true\n  url: http://x/\n  echo: true\n  compress_uploads: false\n', r);
    expect(r.warnings).toEqual([
      'out.yaml:1: json_include_message_property: not supported; alerts are written without "message"',
      'out.yaml:5: http_output.echo: not supported; ignored',
    ]);
  });
});

describe('parseSendSettings', () => {
  const parse = (text: string) => parseSendSettings(parseConfigText(text, 'send.yaml'), reports().report);

  it('reads every falco_grpc_output.send key, and nothing when absent', () => {
    const text = [
      'falco_grpc_output:',
      '  send:',
      '    target: alerts.internal:50051',
      '    insecure: false',
      '    tls_ca: /pki/ca.crt',
      '    tls_cert: /pki/client.crt',
      '    tls_key: /pki/client.key',
      '    buffer_bytes: 1048576',
      '    metrics_listen: 127.0.0.1:9377',
      '    http_listen: 0.0.0.0:2801',
      '',
    ].join('\n');
    expect(parse(text)).toEqual({
      target: 'alerts.internal:50051',
      insecure: false,
      tlsCa: '/pki/ca.crt',
      tlsCert: '/pki/client.crt',
      tlsKey: '/pki/client.key',
      bufferBytes: 1048576,
      metricsListen: '127.0.0.1:9377',
      httpListen: '0.0.0.0:2801',
    });
    expect(parse(falcoYaml('unix:///x.sock'))).toEqual({});
  });

  it('refuses unknown keys and invalid values, naming them', () => {
    expect(() => parse('falco_grpc_output:\n  send:\n    targt: x:1\n')).toThrow(/^send\.yaml:3: falco_grpc_output\.send\.targt: unknown key/);
    expect(() => parse('falco_grpc_output:\n  send:\n    target: "nowhere"\n')).toThrow('send.yaml:3: falco_grpc_output.send.target: expected host:port or unix:///path, got "nowhere"');
    expect(() => parse('falco_grpc_output:\n  send:\n    buffer_bytes: -5\n')).toThrow('send.yaml:3: falco_grpc_output.send.buffer_bytes: expected a size in bytes, a whole number or with a unit (e.g. 65536, 512KiB, 8MiB, 1GiB; k, M, G are powers of 1000), got -5');
  });
});
