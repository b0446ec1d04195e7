// What the benchmarks' flood loop measures with: the main thread's own CPU clock, and paced
// runs in ticks of tickMs. Behaviour and counts: whose CPU is counted, how many alerts, how
// many bursts; CPU is measured against CPU, never against how fast this machine is.

import { describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';
import { runFlood } from '../dist/src/flood/flood.js';
import { mainThreadCpuMicros } from '../dist/src/flood/main-thread-cpu.js';
import { progressWithoutAcks, type FloodTarget } from '../dist/src/flood/target.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('mainThreadCpuMicros', () => {
  it("counts the main thread's CPU and not a busy worker's, in microseconds", async () => {
    // A worker that spins until the process has used 300 ms of CPU more than when told to go; the
    // main thread only waits meanwhile. Measured in CPU, not wall time: on a busy machine the spin
    // takes longer, and the same CPU.
    const worker = new Worker(
      `const { parentPort } = require('node:worker_threads');
       parentPort.on('message', () => {
         const start = process.cpuUsage();
         for (;;) { const used = process.cpuUsage(start); if (used.user + used.system >= 300000) break; }
         parentPort.postMessage('done');
       });
       parentPort.postMessage('ready');`,
      { eval: true },
    );
    const messages: string[] = [];
    worker.on('message', (m: string) => messages.push(m));
    while (!messages.includes('ready')) await sleep(5);
    const main0 = mainThreadCpuMicros();
    const process0 = process.cpuUsage();
    worker.postMessage('go');
    while (!messages.includes('done')) await sleep(20);
    const mainWhileWaiting = mainThreadCpuMicros() - main0;
    const processWhileWaiting = process.cpuUsage(process0);
    await worker.terminate();
    // The process clock saw the worker spin; the main thread's did not.
    expect(processWhileWaiting.user + processWhileWaiting.system).toBeGreaterThanOrEqual(300_000);
    expect(mainWhileWaiting).toBeLessThan(100_000);

    // Now the main thread spins, alone, until the process has used 300 ms more: nearly all of it
    // is the main thread's, and its clock cannot run ahead of the process's or of the wall.
    const processUsSince = (from: NodeJS.CpuUsage): number => {
      const used = process.cpuUsage(from);
      return used.user + used.system;
    };
    const main1 = mainThreadCpuMicros();
    const process1 = process.cpuUsage();
    const start = performance.now();
    while (processUsSince(process1) < 300_000);
    const wallUs = (performance.now() - start) * 1000;
    const processUs = processUsSince(process1);
    const spun = mainThreadCpuMicros() - main1;
    expect(spun).toBeGreaterThan(200_000); // other threads (GC, libuv) did not do a third of it
    expect(spun).toBeLessThanOrEqual(processUs + 20_000);
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
    // Open loop: whatever the tick, and however late the ticks come, 1 s at 2,000/s emits 2,000.
    expect(tenMs.emitted).toBe(2000);
    expect(oneMs.emitted).toBe(2000);
    // A 10 ms timer fires at most 100 times within the second, then once more, late, for the
    // rest; a busy machine makes that fewer, never more. 1 ms ticks make more, smaller bursts.
    expect(tenMs.bursts).toBeLessThanOrEqual(102);
    expect(oneMs.bursts).toBeGreaterThan(tenMs.bursts);
  });
});
