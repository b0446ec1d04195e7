// What the benchmarks' flood loop measures with: the main thread's own CPU clock, and paced
// runs in ticks of tickMs. Behaviour and counts: whose CPU is counted, how many bursts.

import { describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';
import { runFlood } from '../dist/src/flood/flood.js';
import { mainThreadCpuMicros } from '../dist/src/flood/main-thread-cpu.js';
import { progressWithoutAcks, type FloodTarget } from '../dist/src/flood/target.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('mainThreadCpuMicros', () => {
  it("counts the main thread's CPU and not a busy worker's, in microseconds", async () => {
    // A worker that spins for 600 ms once it is up; the main thread only waits meanwhile.
    const worker = new Worker(
      `const { parentPort } = require('node:worker_threads');
       parentPort.postMessage('spinning');
       const end = Date.now() + 600; while (Date.now() < end);
       parentPort.postMessage('done');`,
      { eval: true },
    );
    const messages: string[] = [];
    worker.on('message', (m: string) => messages.push(m));
    while (!messages.includes('spinning')) await sleep(5);
    const main0 = mainThreadCpuMicros();
    const process0 = process.cpuUsage();
    while (!messages.includes('done')) await sleep(20);
    const mainWhileWaiting = mainThreadCpuMicros() - main0;
    const processWhileWaiting = process.cpuUsage(process0);
    await worker.terminate();
    // The process clock saw the worker spin; the main thread's did not.
    expect(processWhileWaiting.user + processWhileWaiting.system).toBeGreaterThan(200_000);
    expect(mainWhileWaiting).toBeLessThan(100_000);

    // Now the main thread spins for 300 ms of wall time: its clock moves, by at most that much.
    const main1 = mainThreadCpuMicros();
    const start = performance.now();
    while (performance.now() - start < 300);
    const wallUs = (performance.now() - start) * 1000;
    const spun = mainThreadCpuMicros() - main1;
    expect(spun).toBeGreaterThan(30_000); // even when the machine lends it a tenth of a core
    expect(spun).toBeLessThanOrEqual(wallUs + 20_000);
  });
});

describe('runFlood tickMs', () => {
  /** A target that accepts everything and counts the bursts: emits in one macrotask are one burst. */
  function burstCounter(): { target: FloodTarget; bursts: () => number } {
    let bursts = 0;
    let inBurst = false;
    const target: FloodTarget = {
      emit: () => {
        if (!inBurst) {
          inBurst = true;
          bursts++;
          setImmediate(() => (inBurst = false));
        }
        return true;
      },
      progress: () => progressWithoutAcks(),
      flush: async () => true,
      close: async () => {},
    };
    return { target, bursts: () => bursts };
  }

  it('emits what is due every tickMs: the same count, in fewer and larger bursts', async () => {
    const run = async (tickMs?: number): Promise<{ emitted: number; bursts: number }> => {
      const { target, bursts } = burstCounter();
      const report = await runFlood({
        rate: 2000,
        durationSec: 1,
        tickMs,
        connection: { target: 'unused' },
        targetFactory: () => target,
      });
      return { emitted: report.emitted, bursts: bursts() };
    };
    const tenMs = await run(10);
    const oneMs = await run();
    for (const r of [tenMs, oneMs]) {
      // Open loop: whatever the tick, 1 s at 2,000/s emits what was due by the last tick.
      expect(r.emitted).toBeGreaterThanOrEqual(1800);
      expect(r.emitted).toBeLessThanOrEqual(2000);
    }
    // A 10 ms timer fires at most 100 times a second; 1 ms ticks make many more, smaller bursts.
    expect(tenMs.bursts).toBeLessThanOrEqual(101);
    expect(oneMs.bursts).toBeGreaterThan(2 * tenMs.bursts);
  });
});
