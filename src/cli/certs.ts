// `falco-grpc-output certs`: a CA, a server and a client certificate for mTLS, named as
// Falco's documentation names them.

import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { createDevPki } from '../certs/dev-pki.js';

interface CertsFlags {
  out: string;
  hosts?: string;
  days: string;
  force?: boolean;
}

export function certsCommand(): Command {
  return new Command('certs')
    .description('make a CA, a server certificate and a client certificate for mTLS (ca.crt, server.crt/key, client.crt/key)')
    .requiredOption('--out <dir>', 'directory to write them to (created if missing)')
    .option('--hosts <h1,h2>', 'extra DNS names or IPs for the server certificate (localhost, 127.0.0.1 and ::1 are always in)')
    .option('--days <n>', 'validity in days', '825')
    .option('--force', 'overwrite existing files')
    .action((flags: CertsFlags) => {
      const days = Number(flags.days);
      if (!Number.isInteger(days) || days < 1) throw new Error(`--days must be a whole number of days, got "${flags.days}"`);
      const hosts = (flags.hosts ?? '').split(',').map((h) => h.trim()).filter(Boolean);
      const pki = createDevPki({ hosts, days });
      const files: Array<[string, string, number]> = [
        ['ca.crt', pki.caCert, 0o644],
        ['ca.key', pki.caKey, 0o600],
        ['server.crt', pki.serverCert, 0o644],
        ['server.key', pki.serverKey, 0o600],
        ['client.crt', pki.clientCert, 0o644],
        ['client.key', pki.clientKey, 0o600],
      ];
      mkdirSync(flags.out, { recursive: true });
      const existing = files.map(([name]) => join(flags.out, name)).filter((path) => existsSync(path));
      if (existing.length > 0 && !flags.force) {
        throw new Error(`refusing to overwrite ${existing.join(', ')} (use --force)`);
      }
      for (const [name, pem, mode] of files) {
        const path = join(flags.out, name);
        writeFileSync(path, pem, { mode });
        chmodSync(path, mode); // an overwritten file keeps its old mode otherwise
      }
      process.stderr.write(`falco-grpc-output certs: wrote ${files.map(([n]) => n).join(', ')} to ${flags.out}\n`);
    });
}
