// What `send` has taken in, in one object: the summary prints it and a metrics module can read
// the same numbers while send runs.

export interface SendCounters {
  /** Alert lines (blank lines aside) or HTTP requests read. */
  read: number;
  /** Of those, the ones refused as not a valid alert (over HTTP: every 4xx answer). */
  malformed: number;
  /** HTTP answers by status: 204 accepted, 4xx refused (malformed), 503 dropped for a full ring. */
  httpResponses: Record<number, number>;
  /** HTTP connections closed on arrival because the most allowed were open. */
  refusedConnections: number;
}

export function createSendCounters(): SendCounters {
  return { read: 0, malformed: 0, httpResponses: {}, refusedConnections: 0 };
}
