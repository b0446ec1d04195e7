// `falco-grpc-output receive`: the receiver daemon.

import { Command } from 'commander';
import { createReceiver } from '../receiver/receiver.js';
import { DiscardSink, JsonLinesSink } from '../receiver/sinks.js';
import { addTlsFlags, tlsFromFlags, type TlsFlags } from './tls-flags.js';

interface ReceiveFlags extends TlsFlags {
  listen: string[];
  outputFile?: string;
  discard?: boolean;
  maxMessageBytes: string;
}

export function receiveCommand(): Command {
  const cmd = new Command('receive')
    .description('receive alerts from transmitters (Transmitter/Publish) and write them as Falco JSON lines')
    .option(
      '--listen <addr>',
      'host:port (mTLS unless --insecure) or unix:///path (plaintext, mode 0660); repeatable',
      (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
    )
    .option('--output-file <file>', 'append alerts to this file instead of stdout')
    .option('--discard', 'acknowledge and count alerts without writing them (load tests)')
    .option('--max-message-bytes <n>', 'largest PublishRequest accepted', String(16 * 1024 * 1024));
  addTlsFlags(cmd, 'server');
  return cmd.action(async (flags: ReceiveFlags) => {
    const listen = flags.listen ?? ['localhost:50051'];
    const receiver = createReceiver({
      listen,
      tls: tlsFromFlags(flags) ?? undefined,
      insecure: flags.insecure,
      sink: flags.discard
        ? new DiscardSink()
        : new JsonLinesSink(flags.outputFile ? { file: flags.outputFile } : { stream: process.stdout }),
      maxMessageBytes: Number(flags.maxMessageBytes),
    });
    const bound = await receiver.start();
    for (const addr of bound) process.stderr.write(`falco-grpc-output receive: listening on ${addr}\n`);
    const stop = async (signal: string): Promise<void> => {
      process.stderr.write(`falco-grpc-output receive: ${signal}: finishing alerts in hand\n`);
      await receiver.close();
      const s = receiver.stats();
      process.stderr.write(
        `falco-grpc-output receive: stopped; accepted ${s.accepted}, duplicates skipped ${s.duplicates}, gaps ${s.gaps}\n`,
      );
      process.exit(0);
    };
    process.once('SIGTERM', () => void stop('SIGTERM'));
    process.once('SIGINT', () => void stop('SIGINT'));
  });
}
