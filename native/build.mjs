// Builds the unix datagram addon (native/unix_dgram.c) at install time, with the node-gyp that npm
// bundles. A machine without a C compiler still installs: the syslog channel then fails unix://
// addresses with an error that says so, and udp:// and tcp:// work as ever.

import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const cwd = fileURLToPath(new URL('.', import.meta.url));
// npm gives lifecycle scripts the path of its own node-gyp; outside npm, one on PATH.
const nodeGyp = process.env.npm_config_node_gyp;
const [command, args] = nodeGyp ? [process.execPath, [nodeGyp, 'rebuild']] : ['node-gyp', ['rebuild']];
const result = spawnSync(command, args, { cwd, stdio: 'inherit' });
if (result.status !== 0) {
  const why = result.error ? result.error.message : `node-gyp exited with ${result.status ?? result.signal}`;
  console.warn(`falco-grpc-output: the unix datagram addon was not built (${why}); syslog to unix:// addresses is unavailable, udp:// and tcp:// work.`);
}
