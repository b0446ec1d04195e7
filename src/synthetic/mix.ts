// A realistic alert mix: Falco default-rule names, priorities weighted as deployments see
// them, encoded sizes from ~300 B to ~4 KB with a rare 32 KB alert (a huge command line).

import type { AlertInput } from '../codec/alert.js';
import { referenceAlert } from './alerts.js';

const RULES: ReadonlyArray<[rule: string, source: string, tags: string[]]> = [
  ['Terminal shell in container', 'syscall', ['container', 'shell', 'mitre_execution', 'T1059']],
  ['Read sensitive file untrusted', 'syscall', ['filesystem', 'mitre_credential_access', 'T1555']],
  ['Write below binary dir', 'syscall', ['filesystem', 'mitre_persistence', 'T1543']],
  ['Contact K8S API Server From Container', 'syscall', ['network', 'k8s', 'container', 'mitre_discovery', 'T1565']],
  ['Redirect STDOUT/STDIN to Network Connection in Container', 'syscall', ['container', 'network', 'process', 'mitre_execution', 'T1059']],
  ['Netcat Remote Code Execution in Container', 'syscall', ['container', 'network', 'process', 'mitre_execution', 'T1059']],
  ['Search Private Keys or Passwords', 'syscall', ['process', 'mitre_credential_access', 'T1552.001']],
  ['Clear Log Activities', 'syscall', ['filesystem', 'mitre_defense_evasion', 'T1070']],
  ['Drop and execute new binary in container', 'syscall', ['container', 'process', 'mitre_persistence', 'TA0003']],
  ['Fileless execution via memfd_create', 'syscall', ['container', 'process', 'mitre_defense_evasion', 'T1620']],
  ['Run shell untrusted', 'syscall', ['shell', 'mitre_execution', 'T1059.004']],
  ['PTRACE attached to process', 'syscall', ['process', 'mitre_privilege_escalation', 'T1055.008']],
  ['Execution from /dev/shm', 'syscall', ['mitre_execution', 'T1059.004']],
  ['Launch Privileged Container', 'k8s_audit', ['container', 'k8s', 'mitre_privilege_escalation', 'T1610']],
  ['Attach/Exec Pod', 'k8s_audit', ['k8s', 'mitre_execution', 'T1609']],
  ['Falco internal: syscall event drop', 'internal', []],
  ['Console Login Without MFA', 'aws_cloudtrail', ['aws', 'mitre_initial_access', 'T1078']],
];

/** Priority numbers with weights (Notice and Warning dominate; Emergency is rare). */
const PRIORITY_WEIGHTS: ReadonlyArray<[priority: number, weight: number]> = [
  [5, 35], [4, 30], [6, 15], [3, 8], [2, 7], [7, 3], [1, 1.5], [0, 0.5],
];

/** Deterministic PRNG (mulberry32): the same mix on every run and every peer. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function weighted<T>(random: () => number, items: ReadonlyArray<[T, number]>): T {
  const total = items.reduce((sum, [, w]) => sum + w, 0);
  let r = random() * total;
  for (const [item, w] of items) if ((r -= w) < 0) return item;
  return items[items.length - 1]![0];
}

/** Extra bytes over the base: most alerts add nothing, some up to ~4 KB. */
function extraBytes(random: () => number): number {
  const r = random();
  if (r < 0.1) return 900 + Math.floor(random() * 2600);
  if (r < 0.4) return 100 + Math.floor(random() * 800);
  return 0;
}

/** `size` pre-built alerts of the realistic mix (built once, so the flood times emit() only). */
export function realisticPool(size = 1024, seed = 42): AlertInput[] {
  const random = prng(seed);
  const pool: AlertInput[] = [];
  for (let i = 0; i < size; i++) {
    const [rule, source, tags] = RULES[Math.floor(random() * RULES.length)]!;
    const base = referenceAlert(i, 0n);
    // One alert in a thousand carries a 32 KB command line.
    const extra = i % 1000 === 500 ? 32 * 1024 : extraBytes(random);
    // The extra bytes go two thirds into the command line, one third into the output text.
    const args = extra > 0 ? ' ' + 'A'.repeat(Math.floor((extra * 2) / 3)) : '';
    const small = random() < 0.4;
    const fields: Record<string, string | number | bigint | null> = small
      ? { 'evt.time': 0n, 'evt.type': 'openat', 'proc.name': 'bash', 'proc.exepath': '/usr/bin/bash', 'user.name': 'root', 'container.id': 'host' }
      : { ...(base.output_fields as Record<string, string | number | bigint | null>), 'proc.cmdline': `bash -c${args}`, 'fd.name': random() < 0.2 ? null : '/etc/shadow' };
    pool.push({
      ...base,
      rule,
      source,
      tags,
      priority: weighted(random, PRIORITY_WEIGHTS),
      hostname: `worker-node-${i % 7}`,
      output: small ? `${rule} (user=root process=bash)` : `${base.output}${args.slice(0, Math.floor(extra / 3))}`,
      output_fields: fields,
    });
  }
  return pool;
}

/** Alert number `seq` of a pool, stamped with `nowNs`. */
export function fromPool(pool: readonly AlertInput[], seq: number, nowNs: bigint): AlertInput {
  const alert = pool[seq % pool.length]!;
  const fields = alert.output_fields as Record<string, unknown>;
  fields['evt.time'] = nowNs;
  return { ...alert, time: nowNs };
}
