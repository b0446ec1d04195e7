// The one place that reaches into grpc-js's private fields. grpc-js has no public way to set
// a server's HTTP/2 flow-control window or to write several messages in one HTTP/2 write, and
// both cost throughput several times over. Callers fall back to the public API when the lookup
// finds nothing (a grpc-js release that renamed its fields), so a rename slows, never breaks.

import type { Http2Session, ServerHttp2Stream } from 'node:http2';

/** The HTTP/2 stream under a grpc-js server call, or null. */
export function http2StreamOf(call: object): ServerHttp2Stream | null {
  let node: unknown = call;
  // server-call.js ServerXxxStreamImpl.call → ServerInterceptingCall.nextCall → BaseServerInterceptingCall.stream
  for (let depth = 0; depth < 4 && node && typeof node === 'object'; depth++) {
    const stream = (node as { stream?: ServerHttp2Stream }).stream;
    if (stream?.session) return stream;
    const next = node as { call?: unknown; nextCall?: unknown };
    node = next.call ?? next.nextCall;
  }
  return null;
}

export function http2SessionOf(call: object): Http2Session | null {
  return http2StreamOf(call)?.session ?? null;
}
