// `falco-grpc-output receive`: the receiver daemon.

import { Command } from 'commander';
import { createReceiver } from '../receiver/receiver.js';
import { createInterface } from 'node:readline';
import { DiscardSink, JsonLinesSink } from '../receiver/sinks.js';
import { FaultSink } from '../receiver/fault-sink.js';
import { addTlsFlags, tlsFromFlags, type TlsFlags } from './tls-flags.js';

interface ReceiveFlags extends TlsFlags {
  listen: string[];
  outputFile?: string;
  discard?: boolean;
  controlStdin?: boolean;
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
    .option(
      '--control-stdin',
      'load tests: read "stall", "resume", "slow MS" and "stats" lines from stdin (stats print on stderr)',
    )
    .option('--max-message-bytes <n>', 'largest PublishRequest accepted', String(16 * 1024 * 1024));
  addTlsFlags(cmd, 'server');
  return cmd.action(async (flags: ReceiveFlags) => {
    const listen = flags.listen ?? ['localhost:50051'];
    const baseSink = flags.discard
      ? new DiscardSink()
      : new JsonLinesSink(flags.outputFile ? { file: flags.outputFile } : { stream: process.stdout });
    const faults = flags.controlStdin ? new FaultSink(baseSink) : null;
    const receiver = createReceiver({
      listen,
      tls: tlsFromFlags(flags) ?? undefined,
      insecure: flags.insecure,
      sink: faults ?? baseSink,
      maxMessageBytes: Number(flags.maxMessageBytes),
    });
    const bound = await receiver.start();
    for (const addr of bound) process.stderr.write(`falco-grpc-output receive: listening on ${addr}\n`);
    const stop = async (signal: string): Promise<void> => {
      process.stderr.write(`falco-grpc-output receive: ${signal}: finishing alerts in hand\n`);
      faults?.resume(); // a stalled sink would otherwise hold the requests in hand forever
      try {
        await receiver.close();
      } catch (err) {
        process.stderr.write(`falco-grpc-output receive: stopping failed: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exit(1);
      }
      const s = receiver.stats();
      process.stderr.write(
        `falco-grpc-output receive: stopped; accepted ${s.accepted}, duplicates skipped ${s.duplicates}, gaps ${s.gaps}\n`,
      );
      process.exit(0);
    };
    if (faults) {
      createInterface({ input: process.stdin }).on('line', (line) => {
        const [command, arg] = line.trim().split(/\s+/);
        if (command === 'stall') faults.stall();
        else if (command === 'resume') faults.resume();
        else if (command === 'slow') faults.slow(Number(arg) || 0);
        else if (command === 'stats') process.stderr.write(`stats ${JSON.stringify(receiver.stats())}\n`);
        else process.stderr.write(`falco-grpc-output receive: unknown control line "${line}"\n`);
      });
    }
    process.once('SIGTERM', () => void stop('SIGTERM'));
    process.once('SIGINT', () => void stop('SIGINT'));
  });
}
