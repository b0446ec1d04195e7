// `falco-grpc-output send`: Falco's JSON output lines (stdin or a file) into the transmitter,
// the bridge from Falco 0.44's json_output to gRPC.

import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { Command } from 'commander';
import { createGrpcOutput } from '../transmitter/grpc-output.js';
import { parseFalcoJsonLine } from '../codec/falco-json.js';
import { addTlsFlags, tlsFromFlags, type TlsFlags } from './tls-flags.js';

interface SendFlags extends TlsFlags {
  target: string;
  input?: string;
  bufferBytes?: string;
  flushTimeout: string;
}

export function sendCommand(): Command {
  const cmd = new Command('send')
    .description("send Falco JSON alert lines (json_output: true) from stdin or a file to a receiver")
    .requiredOption('--target <addr>', 'receiver address (host:port with mTLS, or unix:///path)')
    .option('--input <file>', 'read this file instead of stdin')
    .option('--buffer-bytes <n>', 'transmitter ring size')
    .option('--flush-timeout <seconds>', 'how long to wait for the last acks at the end of input', '60');
  addTlsFlags(cmd, 'client');
  return cmd.action(async (flags: SendFlags) => {
    const flushSec = Number(flags.flushTimeout);
    if (!Number.isFinite(flushSec) || flushSec < 0) throw new Error(`--flush-timeout must be seconds >= 0, got "${flags.flushTimeout}"`);
    const output = createGrpcOutput({
      target: flags.target,
      tls: tlsFromFlags(flags) ?? undefined,
      insecure: flags.insecure,
      bufferBytes: flags.bufferBytes === undefined ? undefined : Number(flags.bufferBytes),
      // A batch tool: wait for ring space rather than drop while the receiver catches up.
      onFull: 'block',
      blockTimeoutMs: 30_000,
    });
    const input = flags.input ? createReadStream(flags.input) : process.stdin;
    let read = 0;
    let malformed = 0;
    let lineNo = 0;
    for await (const line of createInterface({ input, crlfDelay: Infinity })) {
      lineNo++;
      if (line.trim() === '') continue;
      read++;
      try {
        output.emit(parseFalcoJsonLine(line));
      } catch (err) {
        malformed++;
        process.stderr.write(`falco-grpc-output send: line ${lineNo}: ${(err as Error).message}; skipped\n`);
      }
    }
    const flushed = await output.close(flushSec * 1000);
    const s = output.stats();
    process.stderr.write(
      `falco-grpc-output send: read ${read}, sent ${s.emitted - s.drops.invalid}, acked ${s.acked}, ` +
        `dropped ${s.drops.full + s.drops.too_large + s.drops.rejected}, malformed ${malformed}\n`,
    );
    process.exitCode = flushed.flushed && s.dropped === s.drops.invalid ? 0 : 1;
  });
}
