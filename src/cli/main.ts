#!/usr/bin/env node
// falco-grpc-output command line: one subcommand per daily job.

import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { logVerbosity, setLogVerbosity } from '@grpc/grpc-js';
import { receiveCommand } from './receive.js';
import { floodCommand } from './flood.js';
import { certsCommand } from './certs.js';
import { sendCommand } from './send.js';
import { consumeCommand } from './consume.js';

// grpc-js's own log lines ("E No address added out of total 1 resolved") repeat, in its words, an
// error the commands report in theirs. GRPC_VERBOSITY still turns them on, here and in workers.
if (process.env['GRPC_VERBOSITY'] === undefined) {
  setLogVerbosity(logVerbosity.NONE);
  process.env['GRPC_VERBOSITY'] = 'NONE'; // for the worker threads' own grpc-js, read as it loads
}

// Node's warnings as one line each, without its "(Use `node --trace-warnings ...`)" footer.
process.removeAllListeners('warning');
process.on('warning', (warning: Error & { code?: string }) => {
  if (warning.code === 'DEP0123') return; // grpc-js passes an IP target as the TLS server name; nothing to do about it
  const text = warning.message.replace('(insecure: true)', '(--insecure)');
  process.stderr.write(`falco-grpc-output: warning: ${text}\n`);
});

const { version } = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command('falco-grpc-output')
  .description("Falco's gRPC output, standalone: move security alerts over gRPC with mTLS")
  .version(version, '-V, --version', 'print the version and exit')
  .addCommand(sendCommand())
  .addCommand(receiveCommand())
  .addCommand(consumeCommand())
  .addCommand(floodCommand())
  .addCommand(certsCommand());

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`falco-grpc-output: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(2);
});
