// The bus wire contract's names: one subject per Falco priority under a prefix, and the message
// id that makes every alert unique on the stream whichever receiver published it.

import { PRIORITY_NAMES } from '../codec/alert.js';

export const DEFAULT_STREAM = 'FALCO_ALERTS';
export const DEFAULT_SUBJECT_PREFIX = 'falco.alerts';

/** The subject of each priority number (0 Emergency ... 7 Debug), e.g. falco.alerts.warning. */
export function prioritySubjects(prefix: string): readonly string[] {
  return PRIORITY_NAMES.map((name) => `${prefix}.${name.toLowerCase()}`);
}

/** The priority number a subject under `prefix` stands for, or undefined for any other subject. */
export function priorityOfSubject(subjects: readonly string[], subject: string): number | undefined {
  const i = subjects.indexOf(subject);
  return i < 0 ? undefined : i;
}

/** Nats-Msg-Id of an alert: the transmitter's producer id and the alert's sequence number. */
export function messageId(producerId: string, seq: number): string {
  return `${producerId}:${seq}`;
}

/** A subject prefix is dot-separated tokens without wildcards or spaces. */
export function checkSubjectPrefix(prefix: string): string {
  if (!/^[^.*>\s]+(\.[^.*>\s]+)*$/.test(prefix)) {
    throw new RangeError(`subject prefix must be dot-separated tokens without spaces, * or > (e.g. falco.alerts), got ${JSON.stringify(prefix)}`);
  }
  return prefix;
}

/** Stream names may not contain spaces, dots, * or > (nats-server's rule). */
export function checkStreamName(name: string): string {
  if (!/^[^.*>\s/\\]+$/.test(name)) throw new RangeError(`stream name must not contain spaces, ., *, >, / or \\, got ${JSON.stringify(name)}`);
  return name;
}
