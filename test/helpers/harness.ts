// Shared pieces of the end-to-end tests: alerts with a sequence field, a sink that keeps
// what it gets, a receiver CLI child process, and polling.

import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { decodeAlert, type AlertInput, type AlertRun, type FalcoAlert, type GrpcOutput, type Sink } from '../../dist/src/index.js';

// A plain JS module: the host processes that tests start import it too.
import { BASE_NS, numberedAlert as numbered } from '../fixtures/numbered-alert.mjs';

export const CLI = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));
const SUBSCRIBER = fileURLToPath(new URL('../fixtures/subscriber.mjs', import.meta.url));

/** Alert number `i`: its seq in output_fields, nanosecond time and a 64-bit evt.time that differ per alert. */
export const numberedAlert = numbered as (i: number) => AlertInput;

/** Checks one received alert against numberedAlert(i), field for field. */
export function matchesNumbered(alert: FalcoAlert, i: number): boolean {
  const t = (BASE_NS as bigint) + BigInt(i);
  return (
    alert.time !== undefined &&
    alert.time.seconds === t / 1_000_000_000n &&
    alert.time.nanos === Number(t % 1_000_000_000n) &&
    alert.rule === 'Terminal shell in container' &&
    alert.priority === (i % 2 === 0 ? 5 : 4) &&
    alert.source === (i % 3 === 0 ? 'k8s_audit' : 'syscall') &&
    alert.sourceDeprecated === (i % 3 === 0 ? 1 : 0) &&
    alert.hostname === 'worker-node-1' &&
    alert.output === `shell spawned #${i} (user=root)` &&
    alert.tags.join() === 'container,shell' &&
    alert.outputFields['seq'] === String(i) &&
    alert.outputFields['evt.time'] === String(t) &&
    alert.outputFields['proc.name'] === 'bash' &&
    alert.outputFields['fd.name'] === '<NA>'
  );
}

/** Keeps every alert; `stalled` holds acks back until released. */
export class CollectingSink implements Sink {
  readonly alerts: FalcoAlert[] = [];
  private gate: Promise<void> | null = null;
  private open: (() => void) | null = null;

  async write(run: AlertRun): Promise<void> {
    const decoded = run.alerts.map(decodeAlert);
    if (this.gate) await this.gate;
    this.alerts.push(...decoded);
  }

  stall(): void {
    this.gate = new Promise((resolve) => (this.open = resolve));
  }

  release(): void {
    this.open?.();
    this.gate = null;
  }

  seqs(): number[] {
    return this.alerts.map((a) => Number(a.outputFields['seq']));
  }
}

/** Polls `check` until it holds; `what` (a function, for what is known only then) names it in the timeout error. */
export async function waitFor(what: string | (() => string), check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * Emits alerts from..to-1, yielding to the event loop whenever the ring is half full, so a
 * receiver in this same process can keep up and nothing is dropped.
 */
export async function emitRange(output: GrpcOutput, from: number, to: number, onEach?: (i: number) => void): Promise<void> {
  for (let i = from; i < to; i++) {
    while (output.stats().pendingBytes > output.stats().bufferBytes / 2) {
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    if (!output.emit(numberedAlert(i))) throw new Error(`alert ${i} dropped: ${JSON.stringify(output.stats().drops)}`);
    onEach?.(i);
  }
}

/** Exactly 0..n-1, in order. Returns a description of the first problem, or null. */
export function checkExactlyOnceInOrder(alerts: readonly FalcoAlert[], n: number): string | null {
  if (alerts.length !== n) return `expected ${n} alerts, got ${alerts.length}`;
  for (let i = 0; i < n; i++) {
    if (!matchesNumbered(alerts[i]!, i)) return `alert at position ${i} is not alert #${i}: ${JSON.stringify(alerts[i], (_k, v) => (typeof v === 'bigint' ? String(v) : v))}`;
  }
  return null;
}

/** A Falco JSON line parsed with integers beyond 2^53 kept exact (as strings), to compare field for field. */
export function parseExact(line: string): Record<string, unknown> {
  return JSON.parse(line.replace(/([:[,])(-?\d{16,})(?=[,\]}])/g, '$1"$2"')) as Record<string, unknown>;
}

export interface ReceiverProcess {
  child: ChildProcess;
  /** Addresses the receiver printed as listening (ports resolved). */
  addresses: string[];
  stderr: () => string;
  exited: Promise<number | null>;
}

/** Starts `falco-grpc-output receive` (with `env` added to the environment) and resolves once it says it is listening. */
export async function startReceiverProcess(args: string[], env: Record<string, string> = {}): Promise<ReceiverProcess> {
  const child = spawn(process.execPath, [CLI, 'receive', ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  child.stdout!.resume();
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await waitFor(() => `receiver to listen (stderr: ${err})`, () => err.includes('listening on') || child.exitCode !== null, 20_000);
  if (child.exitCode !== null) throw new Error(`receiver exited: ${err}`);
  const addresses = [...err.matchAll(/listening on (\S+)/g)].map((m) => m[1]!);
  return { child, addresses, stderr: () => err, exited };
}

/**
 * A Falco subscription client (test/fixtures/subscriber.mjs) in a process of its own, so it can be
 * frozen with SIGSTOP; `cleanup` is given the kill to run after the test.
 */
export async function subscriberProcess(addr: string, args: string[], cleanup: (fn: () => void) => void) {
  const child: ChildProcess = spawn(process.execPath, [SUBSCRIBER, addr, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  cleanup(() => void child.kill('SIGKILL'));
  const lines: string[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => lines.push(line));
  await waitFor('subscriber ready', () => lines.includes('subscribed'), 15_000);
  const seqs = async (): Promise<number[]> => {
    const before = lines.length;
    child.stdin!.write('report\n');
    await waitFor('subscriber report', () => lines.length > before, 15_000);
    return (JSON.parse(lines[lines.length - 1]!) as { seqs: number[] }).seqs;
  };
  return {
    child,
    /** output_fields.seq of every alert received so far. */
    seqs,
    /** The seq of every alert it received, once it has received at least `count`. */
    async seqsUntil(count: number, timeoutMs = 60_000): Promise<number[]> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const got = await seqs();
        if (got.length >= count) return got;
        if (Date.now() > deadline) throw new Error(`subscriber has ${got.length} of ${count} alerts after ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
  };
}

/**
 * `send`'s summary with one output: what it read, and the output's counts as its stats and
 * metrics have them (emitted = acked + dropped once closed).
 */
export function sendSummary(c: { read: number; malformed: number; emitted: number; acked: number; dropped: number }): RegExp {
  return new RegExp(`read ${c.read}, malformed ${c.malformed}\\n[^\\n]*send: [^\\n]+: emitted ${c.emitted}, acked ${c.acked}, dropped ${c.dropped}\\b`);
}
