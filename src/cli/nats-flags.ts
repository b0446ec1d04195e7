// The --nats* flags of `receive` and `consume`: where the bus is and how to log in, as a NATS user
// expects (creds file, user/password, token, TLS CA and client certificate); `receive` also says
// how the stream is created when missing.

import { Option, type Command } from 'commander';
import { parsedBy } from './config-options.js';
import { checkPositiveInteger } from '../config/checks.js';
import { splitNatsUrls } from '../config/nats-config.js';

function urls(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), ...parsedBy((v) => splitNatsUrls(String(v)))(value)];
}

/** Adds the flags; with `envPrefix` each can also come from PREFIX + NATS_... (e.g. FALCO_GRPC_OUTPUT_NATS_PASSWORD). */
export function addNatsFlags(cmd: Command, role: 'receive' | 'consume', envPrefix?: string): Command {
  const flag = (flags: string, description: string, env: string): Option => {
    const option = new Option(flags, description);
    return envPrefix ? option.env(envPrefix + env) : option;
  };
  const positive = parsedBy(checkPositiveInteger);
  const what = role === 'receive' ? 'publish every alert to NATS JetStream and serve sub/get from it (a stateless relay; several receivers share one stream)' : 'read the stream from these NATS servers';
  cmd
    .addOption(flag('--nats <urls>', `${what}: nats://host:4222 or tls://host:4222, comma-separated or repeated`, 'NATS').argParser(urls))
    .addOption(flag('--nats-stream <name>', 'JetStream stream (default FALCO_ALERTS)', 'NATS_STREAM'))
    .addOption(flag('--nats-subject-prefix <prefix>', 'alerts go to <prefix>.<priority> (default falco.alerts)', 'NATS_SUBJECT_PREFIX'))
    .addOption(flag('--nats-creds <file>', 'NATS creds file (user JWT and nkey seed)', 'NATS_CREDS'))
    .addOption(flag('--nats-user <user>', 'NATS user (with --nats-password)', 'NATS_USER'))
    .addOption(flag('--nats-password <password>', 'NATS password (prefer the environment variable)', 'NATS_PASSWORD'))
    .addOption(flag('--nats-token <token>', 'NATS token (prefer the environment variable)', 'NATS_TOKEN'))
    .addOption(flag('--nats-tls-ca <file>', "CA that the NATS server's certificate must chain to (turns TLS on)", 'NATS_TLS_CA'))
    .addOption(flag('--nats-tls-cert <file>', 'client certificate for NATS mutual TLS', 'NATS_TLS_CERT'))
    .addOption(flag('--nats-tls-key <file>', 'client key for NATS mutual TLS', 'NATS_TLS_KEY'));
  if (role === 'receive') {
    cmd
      .addOption(flag('--nats-replicas <n>', 'replicas of a stream created here (default 1; 3 on a 3-node cluster)', 'NATS_REPLICAS').argParser(positive))
      .addOption(flag('--nats-max-age-ms <ms>', 'alerts older than this leave a stream created here (default 24 h)', 'NATS_MAX_AGE_MS').argParser(positive))
      .addOption(flag('--nats-max-bytes <n>', 'size limit of a stream created here, oldest out first (default 1 GiB)', 'NATS_MAX_BYTES').argParser(positive))
      .addOption(flag('--nats-duplicate-window-ms <ms>', 'how long a resend is recognised by Nats-Msg-Id (default 120000, at least 60000)', 'NATS_DUPLICATE_WINDOW_MS').argParser(positive))
      .addOption(flag('--nats-publish-window <n>', 'alerts published and waiting for their PubAck at once (default 4096)', 'NATS_PUBLISH_WINDOW').argParser(positive));
  }
  return cmd;
}
