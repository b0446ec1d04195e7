// The far ends of the classic outputs benchmark, each a child process so that their CPU is not
// the flooding thread's: sink-process.mjs (the HTTP server and the file's line counter) and a
// `receive --discard` gRPC receiver on a unix socket. Counts what each destination got.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const SINK = fileURLToPath(new URL('./sink-process.mjs', import.meta.url));
const CLI = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));

/**
 * A child's output as request/response lines: `ask(line)` writes a control line and resolves
 * with the next output line that `matches`, in order.
 */
function lineChannel(child, output, matches) {
  const waiting = [];
  let exited = null;
  createInterface({ input: output }).on('line', (line) => {
    if (matches(line)) waiting.shift()?.resolve(line);
  });
  child.once('exit', (code, signal) => {
    exited = new Error(`${child.spawnfile} ${child.spawnargs.slice(1, 3).join(' ')} exited (${code ?? signal})`);
    for (const w of waiting.splice(0)) w.reject(exited);
  });
  return {
    next: () => (exited ? Promise.reject(exited) : new Promise((resolve, reject) => waiting.push({ resolve, reject }))),
    ask(line) {
      const answer = this.next();
      child.stdin.write(`${line}\n`);
      return answer;
    },
  };
}

async function startSink(file) {
  const child = spawn(process.execPath, [SINK, JSON.stringify({ file })], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = lineChannel(child, child.stdout, (line) => line.startsWith('{'));
  const { url } = JSON.parse(await lines.next());
  return { child, lines, url };
}

async function startReceiver(dir) {
  const target = `unix://${join(dir, 'receiver.sock')}`;
  const child = spawn(process.execPath, [CLI, 'receive', '--discard', '--control-stdin', '--listen', target], {
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  const listening = lineChannel(child, child.stderr, (line) => line.includes('listening on'));
  await listening.next();
  const lines = lineChannel(child, child.stderr, (line) => line.startsWith('stats '));
  return { child, lines, connection: { target } };
}

function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  return exited;
}

/**
 * @param {{ file: boolean, http: boolean, grpc: boolean }} which
 * @returns the destinations' addresses (file path, HTTP url, gRPC connection; null when not asked for),
 *   stall()/resume() of the HTTP server, counts() of what each one got, and close().
 */
export async function startDestinations(which) {
  const dir = mkdtempSync(join(tmpdir(), 'falco-outputs-bench-'));
  const file = which.file ? join(dir, 'alerts.jsonl') : null;
  const sink = which.file || which.http ? await startSink(file) : null;
  const receiver = which.grpc ? await startReceiver(dir) : null;
  return {
    file,
    httpUrl: which.http ? sink.url : null,
    grpc: receiver?.connection ?? null,
    stall: () => sink?.child.stdin.write('stall\n'),
    resume: () => sink?.child.stdin.write('resume\n'),
    /** @returns {Promise<{ file: number | null, fileBytes: number | null, http: number | null, grpc: number | null }>} */
    async counts() {
      const [s, r] = await Promise.all([
        sink ? sink.lines.ask('counts').then(JSON.parse) : null,
        receiver ? receiver.lines.ask('stats').then((line) => JSON.parse(line.slice('stats '.length))) : null,
      ]);
      return {
        file: which.file ? s.fileLines : null,
        fileBytes: which.file ? s.fileBytes : null,
        http: which.http ? s.httpAlerts : null,
        grpc: r ? r.accepted : null,
      };
    },
    async close() {
      await Promise.all([sink && stopChild(sink.child), receiver && stopChild(receiver.child)]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
