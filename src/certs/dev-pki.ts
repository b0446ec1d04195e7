// A throwaway PKI for mTLS: one CA, a server certificate and a client certificate.
// Keys come from Node's native RSA generator (fast); node-forge builds and signs the certificates.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import forge from 'node-forge';

export interface DevPki {
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

export interface DevPkiOptions {
  /** Extra DNS names or IP addresses for the server certificate (localhost, 127.0.0.1 and ::1 are always in). */
  hosts?: readonly string[];
  /** Validity in days. Default 825. */
  days?: number;
  /** Common name prefix, to tell PKIs apart. Default "falco-grpc-output". */
  name?: string;
}

interface KeyPair {
  pem: string;
  forgeKey: forge.pki.rsa.PrivateKey;
  publicKey: forge.pki.rsa.PublicKey;
}

function newKey(): KeyPair {
  const { privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const forgeKey = forge.pki.privateKeyFromPem(privateKey);
  return { pem: privateKey, forgeKey, publicKey: forge.pki.setRsaPublicKey(forgeKey.n, forgeKey.e) };
}

function certificate(
  subject: string,
  key: KeyPair,
  issuer: { name: string; key: KeyPair } | null,
  days: number,
  extensions: object[],
): string {
  const cert = forge.pki.createCertificate();
  cert.publicKey = key.publicKey;
  cert.serialNumber = '01' + randomBytes(15).toString('hex'); // positive, unique
  const now = Date.now();
  cert.validity.notBefore = new Date(now - 60_000);
  cert.validity.notAfter = new Date(now + days * 86_400_000);
  cert.setSubject([{ name: 'commonName', value: subject }]);
  cert.setIssuer([{ name: 'commonName', value: issuer ? issuer.name : subject }]);
  cert.setExtensions([{ name: 'subjectKeyIdentifier' }, ...extensions]);
  cert.sign(issuer ? issuer.key.forgeKey : key.forgeKey, forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

export function createDevPki(options: DevPkiOptions = {}): DevPki {
  const days = options.days ?? 825;
  const prefix = options.name ?? 'falco-grpc-output';
  const caName = `${prefix} dev CA`;
  const ca = newKey();
  const caCert = certificate(caName, ca, null, days, [
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
  ]);
  const hosts = ['localhost', '127.0.0.1', '::1', ...(options.hosts ?? [])];
  const altNames = [...new Set(hosts)].map((h) => (isIP(h) ? { type: 7, ip: h } : { type: 2, value: h }));
  const server = newKey();
  const serverCert = certificate(`${prefix} server`, server, { name: caName, key: ca }, days, [
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames },
  ]);
  const client = newKey();
  const clientCert = certificate(`${prefix} client`, client, { name: caName, key: ca }, days, [
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', clientAuth: true },
  ]);
  return { caCert, caKey: ca.pem, serverCert, serverKey: server.pem, clientCert, clientKey: client.pem };
}
