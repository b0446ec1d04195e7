#!/usr/bin/env node
// falco-grpc-output command line: one subcommand per daily job.

import { Command } from 'commander';
import { receiveCommand } from './receive.js';
import { floodCommand } from './flood.js';
import { certsCommand } from './certs.js';
import { sendCommand } from './send.js';
import { consumeCommand } from './consume.js';

const program = new Command('falco-grpc-output')
  .description("Falco's gRPC output, standalone: move security alerts over gRPC with mTLS")
  .addCommand(sendCommand())
  .addCommand(receiveCommand())
  .addCommand(consumeCommand())
  .addCommand(floodCommand())
  .addCommand(certsCommand());

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`falco-grpc-output: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(2);
});
