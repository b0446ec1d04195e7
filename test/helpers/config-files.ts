// Config files for the configuration tests: real files in temp dirs, from the realistic falco.yaml.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from './pki.js';

const FALCO_YAML = readFileSync(fileURLToPath(new URL('../fixtures/falco-0.43.yaml', import.meta.url)), 'utf8');

/** Writes a config file in a fresh temp dir; returns its path. */
export function writeConfig(text: string, name = 'falco.yaml'): string {
  const file = join(tempDir('fgo-config-'), name);
  writeFileSync(file, text);
  return file;
}

/** The realistic falco.yaml with the given grpc.bind_address, plus extra YAML appended. */
export function falcoYaml(bindAddress: string, extra = ''): string {
  return FALCO_YAML.replace('__BIND_ADDRESS__', bindAddress) + extra;
}
