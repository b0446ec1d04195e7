// The TLS keys that falco_grpc_output's receive: and send: sections share, named after the
// command-line flags they stand for (--tls-ca, --tls-cert, --tls-key, --insecure).

import type { ConfigSection } from './section.js';
import type { TlsSettings } from '../tls/pem.js';

export function readTlsKeys(section: ConfigSection): TlsSettings {
  return {
    tlsCa: section.filePath('tls_ca'),
    tlsCert: section.filePath('tls_cert'),
    tlsKey: section.filePath('tls_key'),
    insecure: section.boolean('insecure'),
  };
}
