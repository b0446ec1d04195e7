// Synthetic Falco alerts for floods and demos.

import type { AlertInput } from '../codec/alert.js';

/**
 * The reference alert: a Falco default rule with a typical field set, 630 bytes encoded
 * (falco.outputs.response, with hostname "worker-node-1"). `time` and evt.time move per call.
 */
export function referenceAlert(seq: number, nowNs: bigint): AlertInput {
  return {
    time: nowNs,
    rule: 'Terminal shell in container',
    priority: 'Notice',
    source: 'syscall',
    hostname: 'worker-node-1',
    output:
      '05:00:00.002470133: Notice A shell was spawned in a container with an attached terminal (evt_type=execve user=root user_uid=0 process=bash proc_exepath=/usr/bin/bash parent=runc command=bash -il terminal=3481 container_id=0bec3898d190)',
    tags: ['container', 'shell', 'mitre_execution', 'T1059'],
    output_fields: {
      'evt.time': nowNs,
      'evt.type': 'execve',
      'user.name': 'root',
      'user.uid': 0,
      'proc.name': 'bash',
      'proc.exepath': '/usr/bin/bash',
      'proc.pname': 'runc',
      'proc.cmdline': 'bash -il',
      'proc.tty': 34816,
      'container.id': '0bec3898d190',
      'container.image.repository': 'nginx',
      seq,
    },
  };
}
