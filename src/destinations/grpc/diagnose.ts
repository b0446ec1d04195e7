// Why a connection fails, when grpc-js cannot say: a receiver that refuses this transmitter's
// client certificate, or a TLS receiver spoken to in plaintext, only closes the socket, and
// grpc-js reports "Failed to connect". One probe connection, made the way grpc-js makes its
// own (TLS with the same files and ALPN h2, then the HTTP/2 preface), hears what the peer does.
// Run by the sender after a failed attempt, off the alert path.

import net from 'node:net';
import tls from 'node:tls';
import { errorText } from '../../common/errors.js';
import type { SenderConfig } from './config.js';

const PROBE_TIMEOUT_MS = 3000;
/** The HTTP/2 client preface and an empty SETTINGS frame: what a gRPC client says first. */
const H2_PREFACE = Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]);
const TLS_RECORD_TYPES = new Set([0x15, 0x16]); // alert, handshake

const CERT_REFUSED = "this transmitter's client certificate, which must be issued by a CA the receiver trusts (tls.cert, tls.key)";

/** OpenSSL's verdicts on the receiver's certificate, and what each means here. */
const SERVER_CERT_PROBLEMS: Record<string, string> = {
  CERT_SIGNATURE_FAILURE: 'is not signed by the CA this transmitter trusts (tls.ca)',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'is not signed by the CA this transmitter trusts (tls.ca)',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'is not signed by the CA this transmitter trusts (tls.ca)',
  UNABLE_TO_GET_ISSUER_CERT: 'is not signed by the CA this transmitter trusts (tls.ca)',
  SELF_SIGNED_CERT_IN_CHAIN: 'is not signed by the CA this transmitter trusts (tls.ca)',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'is self-signed and not the CA this transmitter trusts (tls.ca)',
  CERT_HAS_EXPIRED: 'has expired',
  CERT_NOT_YET_VALID: 'is not valid yet (check the clocks)',
  ERR_TLS_CERT_ALTNAME_INVALID: 'is not issued for the address dialled (use a name its certificate carries, or serverName)',
};

function hostAndPort(target: string): { host: string; port: number } | null {
  const m = /^(?:dns:(?:\/\/\/)?)?(?:\[([^\]]+)\]|([^:/[\]]+)):(\d{1,5})$/.exec(target);
  return m ? { host: (m[1] ?? m[2])!, port: Number(m[3]) } : null;
}

/** The probe had no answer within its time: nothing learnt, worth trying again on the next failure (a busy machine, not a verdict). */
export const PROBE_TIMED_OUT = Symbol('probe timed out');

/**
 * What the peer did with the probe: a sentence for stats().lastError, null when the probe got
 * through or learnt nothing new, PROBE_TIMED_OUT when it had no answer in time.
 */
export function diagnoseConnection(cfg: SenderConfig, timeoutMs = PROBE_TIMEOUT_MS): Promise<string | null | typeof PROBE_TIMED_OUT> {
  const address = hostAndPort(cfg.target);
  if (address === null) return Promise.resolve(null); // unix sockets: grpc-js's errno (ENOENT, ECONNREFUSED) says it
  return new Promise((resolve) => {
    let secured = cfg.tls === null;
    let settled = false;
    const done = (cause: string | null | typeof PROBE_TIMED_OUT): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(cause);
    };
    const timer = setTimeout(() => done(PROBE_TIMED_OUT), timeoutMs);
    timer.unref();
    let socket: net.Socket;
    if (cfg.tls === null) {
      socket = net.connect(address.port, address.host, () => socket.write(H2_PREFACE));
    } else {
      const name = cfg.serverName;
      socket = tls.connect(
        {
          host: address.host,
          port: address.port,
          ca: Buffer.from(cfg.tls.ca),
          cert: Buffer.from(cfg.tls.cert),
          key: Buffer.from(cfg.tls.key),
          ALPNProtocols: ['h2'],
          // No servername for an IP (Node warns, DEP0123); the IP is still checked against the certificate.
          servername: name ?? (net.isIP(address.host) ? undefined : address.host),
          ...(name ? { checkServerIdentity: (_host: string, cert: tls.PeerCertificate) => tls.checkServerIdentity(name, cert) } : {}),
        },
        () => {
          secured = true;
          const tlsSocket = socket as tls.TLSSocket;
          if (tlsSocket.alpnProtocol !== 'h2') return done('the receiver does not offer HTTP/2 over TLS (ALPN h2): is it a gRPC server?');
          socket.write(H2_PREFACE);
        },
      );
    }
    socket.unref();
    socket.on('data', (data: Buffer) => {
      if (cfg.tls === null && TLS_RECORD_TYPES.has(data[0]!)) done('the receiver answered in TLS: it expects mTLS, and this transmitter speaks plaintext (insecure)');
      else done(null); // an HTTP/2 answer: this connection works; the failure was elsewhere
    });
    socket.on('error', (err: NodeJS.ErrnoException) => done(explain(err, secured, cfg.tls === null)));
    socket.on('close', () => {
      if (cfg.tls === null) done('the receiver closed a plaintext connection without answering: it most likely expects TLS (mTLS), and this transmitter speaks plaintext (insecure)');
      else if (secured) done(`the receiver closed the connection right after the TLS handshake: most likely it refused ${CERT_REFUSED}`);
      else done(`the receiver closed the connection during the TLS handshake: most likely it refused ${CERT_REFUSED}`);
    });
  });
}

function explain(err: NodeJS.ErrnoException, secured: boolean, plaintext: boolean): string | null {
  const code = err.code ?? '';
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH' || code === 'ETIMEDOUT' || code === 'EAI_AGAIN') {
    return null; // grpc-js names these itself
  }
  if (plaintext) return code === 'ECONNRESET' ? 'the receiver reset a plaintext connection: it most likely expects TLS (mTLS), and this transmitter speaks plaintext (insecure)' : null;
  const problem = SERVER_CERT_PROBLEMS[code];
  if (problem) return `the receiver's certificate ${problem}`;
  if (/WRONG_VERSION_NUMBER|PACKET_LENGTH_TOO_LONG|HTTP_REQUEST/.test(code)) {
    return 'the receiver does not speak TLS: it is most likely plaintext (insecure), while this transmitter uses mTLS';
  }
  if (/ALERT_(UNKNOWN_CA|BAD_CERTIFICATE|CERTIFICATE_REQUIRED|CERTIFICATE_UNKNOWN|DECRYPT_ERROR|ACCESS_DENIED)/.test(code)) {
    return `the receiver refused ${CERT_REFUSED} (TLS alert: ${errorText(err)})`;
  }
  if (code === 'ECONNRESET') {
    return `the receiver reset the connection ${secured ? 'right after' : 'during'} the TLS handshake: most likely it refused ${CERT_REFUSED}`;
  }
  return `TLS: ${errorText(err)}`;
}
