// CPU time of the calling thread only. process.cpuUsage() counts every thread of the
// process (the transmitter's worker included), which would hide what emit() costs the host.

import { readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100; // Linux USER_HZ

/** Microseconds of CPU the main thread has used; falls back to the whole process off Linux. */
export function mainThreadCpuMicros(): number {
  // /proc/self/task/<pid> is the main thread. schedstat's first field is its time on a CPU in
  // nanoseconds; stat counts 10 ms ticks, too coarse for a paced run of a few thousand alerts.
  const task = `/proc/self/task/${process.pid}`;
  try {
    const ns = Number(readFileSync(`${task}/schedstat`, 'utf8').split(' ')[0]);
    if (Number.isFinite(ns)) return ns / 1000;
  } catch {
    // a kernel without schedstats: ticks below
  }
  try {
    // Fields 14 and 15 are utime and stime in ticks.
    const stat = readFileSync(`${task}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1_000_000) / TICKS_PER_SECOND;
  } catch {
    const usage = process.cpuUsage();
    return usage.user + usage.system;
  }
}
