// A real nats-server with JetStream for a test: its own temp store dir and a free loopback port,
// started from the test, ready once it says so, stopped and killed by pid. Restarting keeps the
// port and the store, so clients reconnect to the same URL and find their stream again.
// nats-server comes from Debian's package of that name (scripts/provision.mjs installs it).

import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { delimiter, join } from 'node:path';
import { tempDir } from './pki.js';

/** The nats-server binary: NATS_SERVER, else PATH, else Debian's /usr/sbin. */
export function natsServerBinary(): string {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin'];
  const candidates = process.env.NATS_SERVER ? [process.env.NATS_SERVER] : dirs.map((d) => join(d, 'nats-server'));
  for (const path of candidates) {
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // next
    }
  }
  throw new Error('nats-server not found: run `node scripts/provision.mjs` (npm test does), or apt-get install nats-server');
}

/** A TCP port nobody listens on right now (the kernel's pick, released at once). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface NatsOptions {
  /** Extra configuration text (nats-server's config syntax: authorization, tls, ...). */
  config?: string;
  /** A port to use instead of a free one. */
  port?: number;
  /** URL scheme clients should use (tls when the config has a tls block). Default nats. */
  scheme?: 'nats' | 'tls';
  /** Default true. */
  jetstream?: boolean;
}

export class NatsServer {
  readonly storeDir = tempDir('fgo-nats-');
  private child: ChildProcess | null = null;
  private log = '';
  private exitedAt: Promise<void> = Promise.resolve();

  private constructor(
    readonly port: number,
    private readonly configFile: string,
    private readonly scheme: string,
  ) {}

  static async start(options: NatsOptions = {}): Promise<NatsServer> {
    const port = options.port ?? (await freePort());
    const dir = tempDir('fgo-nats-conf-');
    const configFile = join(dir, 'nats.conf');
    const server = new NatsServer(port, configFile, options.scheme ?? 'nats');
    writeFileSync(
      configFile,
      `listen: 127.0.0.1:${port}\n${options.jetstream === false ? '' : `jetstream { store_dir: "${server.storeDir}" }`}\n${options.config ?? ''}\n`,
    );
    await server.restart();
    return server;
  }

  get url(): string {
    return `${this.scheme}://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== null;
  }

  /** Everything the server logged since it was last started. */
  output(): string {
    return this.log;
  }

  /** Starts the server (again, on the same port and store) and resolves when it is ready for clients. */
  async restart(): Promise<void> {
    if (this.child) throw new Error('nats-server is already running');
    this.log = '';
    const child = spawn(natsServerBinary(), ['-c', this.configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    const onData = (d: Buffer): void => {
      this.log += d.toString();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    this.exitedAt = new Promise((resolve) =>
      child.once('exit', () => {
        if (this.child === child) this.child = null;
        resolve();
      }),
    );
    const deadline = Date.now() + 30_000;
    while (!this.log.includes('Server is ready')) {
      if (this.child !== child) throw new Error(`nats-server exited before it was ready:\n${this.log}`);
      if (Date.now() > deadline) {
        await this.kill();
        throw new Error(`nats-server not ready after 30 s:\n${this.log}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** SIGTERM (nats-server shuts down cleanly), and waits for the process to go; SIGKILL after 10 s. */
  async stop(): Promise<void> {
    await this.signal('SIGTERM', 10_000);
  }

  /** SIGKILL by pid and waits for the process to go. */
  async kill(): Promise<void> {
    await this.signal('SIGKILL', 10_000);
  }

  private async signal(signal: NodeJS.Signals, graceMs: number): Promise<void> {
    const child = this.child;
    if (!child?.pid) return;
    process.kill(child.pid, signal);
    const timer = setTimeout(() => child.pid && process.kill(child.pid, 'SIGKILL'), graceMs);
    await this.exitedAt;
    clearTimeout(timer);
  }
}

/** One message of a stream as a consumer in any language would see it. */
export interface StreamMessage {
  seq: number;
  subject: string;
  msgId: string | undefined;
  data: Uint8Array;
}

/** Every message the stream holds, in stream order, read with nats.js directly (not the project's readers). */
export async function readStream(url: string, stream: string, connectOptions: Record<string, unknown> = {}): Promise<StreamMessage[]> {
  const { connect } = await import('@nats-io/transport-node');
  const { jetstream, jetstreamManager, DeliverPolicy } = await import('@nats-io/jetstream');
  const nc = await connect({ servers: url, ...connectOptions });
  try {
    const jsm = await jetstreamManager(nc);
    const last = (await jsm.streams.info(stream)).state.last_seq;
    const out: StreamMessage[] = [];
    if (last === 0) return out;
    const consumer = await jetstream(nc).consumers.get(stream, { deliver_policy: DeliverPolicy.All });
    const messages = await consumer.consume({ max_messages: 1000 });
    for await (const m of messages) {
      out.push({ seq: m.seq, subject: m.subject, msgId: m.headers?.get('Nats-Msg-Id'), data: m.data });
      if (m.seq >= last) break;
    }
    await messages.close();
    return out;
  } finally {
    await nc.close();
  }
}
