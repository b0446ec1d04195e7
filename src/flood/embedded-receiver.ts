// The flood's own receiver: `falco-grpc-output receive --discard --control-stdin` in a child
// process (its CPU is not the flooding thread's), on a unix socket or loopback mTLS, with the
// fault modes a load test needs.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDevPki } from '../certs/dev-pki.js';
import type { FloodConnection } from './target.js';

const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));

/** Receiver fault modes: none, stall:S (stops acking and reading for S s mid-flood), slow:MS (each ack delayed), down (never starts), restart-every:S. */
export type ReceiverFault =
  | { kind: 'none' }
  | { kind: 'stall'; seconds: number }
  | { kind: 'slow'; ms: number }
  | { kind: 'down' }
  | { kind: 'restart-every'; seconds: number };

export function parseFault(text: string): ReceiverFault {
  const [kind, arg] = text.split(':');
  const n = Number(arg);
  const needNumber = (): number => {
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--receiver ${text}: ${kind} needs a positive number, e.g. ${kind}:5`);
    return n;
  };
  switch (kind) {
    case 'none':
      return { kind: 'none' };
    case 'down':
      return { kind: 'down' };
    case 'stall':
      return { kind: 'stall', seconds: needNumber() };
    case 'slow':
      return { kind: 'slow', ms: needNumber() };
    case 'restart-every':
      return { kind: 'restart-every', seconds: needNumber() };
    default:
      throw new Error(`--receiver ${text}: expected none, stall:S, slow:MS, down or restart-every:S`);
  }
}

export class EmbeddedReceiver {
  private child: ChildProcess | null = null;
  private readonly dir = mkdtempSync(join(tmpdir(), 'falco-grpc-output-flood-'));
  private args: string[] = [];
  /** Where transmitters connect; fixed for the receiver's life, across restarts. */
  connection!: FloodConnection;
  restarts = 0;

  constructor(private readonly transport: 'unix' | 'mtls') {}

  /** The receiver process's pid (for its CPU time in /proc), or null while none runs. */
  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  async start(fault: ReceiverFault): Promise<FloodConnection> {
    if (this.transport === 'unix') {
      const target = `unix://${join(this.dir, 'receiver.sock')}`;
      this.args = ['--listen', target];
      this.connection = { target };
    } else {
      const pki = createDevPki({ name: 'flood' });
      const file = (name: string, pem: string): string => {
        const path = join(this.dir, name);
        writeFileSync(path, pem, { mode: 0o600 });
        return path;
      };
      this.args = ['--tls-cert', file('server.crt', pki.serverCert), '--tls-key', file('server.key', pki.serverKey), '--tls-ca', file('ca.crt', pki.caCert)];
      this.connection = { target: '', tls: { ca: pki.caCert, cert: pki.clientCert, key: pki.clientKey } };
    }
    if (fault.kind === 'down') {
      // Nothing listens: for a unix socket the path simply does not exist; for TCP a port that was free.
      if (this.transport === 'mtls') this.connection.target = 'localhost:9';
      return this.connection;
    }
    const listen = this.transport === 'unix' ? [] : ['--listen', 'localhost:0'];
    const bound = await this.spawn([...listen, ...this.args]);
    if (this.transport === 'mtls') {
      this.connection.target = bound;
      this.args = ['--listen', bound, ...this.args]; // restarts come back on the same port
    }
    if (fault.kind === 'slow') this.control(`slow ${fault.ms}`);
    return this.connection;
  }

  private async spawn(args: string[]): Promise<string> {
    const child = spawn(process.execPath, [CLI, 'receive', '--discard', '--control-stdin', ...args], {
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    this.child = child;
    let said = '';
    return new Promise<string>((resolve, reject) => {
      child.stderr!.on('data', (d: Buffer) => {
        said += d.toString();
        const m = /listening on (\S+)/.exec(said);
        if (m) resolve(m[1]!);
      });
      child.once('exit', (code) => reject(new Error(`embedded receiver exited with ${code}: ${said}`)));
    });
  }

  /** Sends one control line ("stall", "resume", "slow MS"). */
  control(line: string): void {
    this.child?.stdin?.write(`${line}\n`);
  }

  private restarting: Promise<void> | null = null;

  /**
   * SIGTERM (it acks what it has in hand), then the same receiver again on the same address.
   * A restart asked for while one is under way is skipped: overlapping ones would kill each
   * other's new child.
   */
  restart(): Promise<void> {
    this.restarting ??= (async () => {
      try {
        await this.stop();
        await this.spawn(this.args);
        this.restarts++;
      } catch (err) {
        process.stderr.write(`falco-grpc-output flood: embedded receiver restart failed: ${(err as Error).message}\n`);
      } finally {
        this.restarting = null;
      }
    })();
    return this.restarting;
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    this.child = null;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }

  async close(): Promise<void> {
    await this.restarting;
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
