// Reads a falco.yaml-style file: YAML 1.2 (as Falco's yaml-cpp), one document, a map at the top.
// Syntax errors name the file, line and column; the result is the top-level ConfigSection.

import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { LineCounter, isMap, isScalar, parseDocument } from 'yaml';
import { ConfigError, ConfigSection } from './section.js';

/** A parsed config file. Section readers take it and report errors as `file:line: key.path: ...`. */
export interface ConfigDocument {
  /** The file name as given. */
  readonly file: string;
  /** The top-level map. */
  readonly root: ConfigSection;
}

/** Largest config file read: a falco.yaml is tens of KiB; a file past this is a mistake or an attack (YAML parsing costs far more memory than the file). */
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

export function loadConfigFile(file: string): ConfigDocument {
  let text: string;
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const tooLarge = (size: string): ConfigError =>
      new ConfigError(`config file ${file} is ${size}; files over ${MAX_CONFIG_BYTES / 1024 / 1024} MiB are refused (a falco.yaml is a few KiB): is it the right file?`);
    const { size } = fstatSync(fd);
    if (size > MAX_CONFIG_BYTES) throw tooLarge(`${(size / 1024 / 1024).toFixed(1)} MiB`);
    // Read in bounded steps: a pipe (--config <(...)) has no size to check up front.
    const chunks: Buffer[] = [];
    let total = 0;
    const chunk = Buffer.alloc(64 * 1024);
    for (let n = readSync(fd, chunk); n > 0; n = readSync(fd, chunk)) {
      total += n;
      if (total > MAX_CONFIG_BYTES) throw tooLarge(`more than ${MAX_CONFIG_BYTES / 1024 / 1024} MiB`);
      chunks.push(Buffer.from(chunk.subarray(0, n)));
    }
    text = Buffer.concat(chunks, total).toString('utf8');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  return parseConfigText(text, file);
}

/** Parses config text; `file` is only the name that messages use. */
export function parseConfigText(text: string, file: string): ConfigDocument {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const error = doc.errors[0];
  if (error) {
    const { line, col } = lines.linePos(error.pos[0]);
    throw new ConfigError(`${file}:${line}:${col}: YAML syntax error: ${error.message.split('\n')[0]}`);
  }
  const contents = doc.contents;
  const empty = contents === null || (isScalar(contents) && contents.value === null);
  if (!empty && !isMap(contents)) {
    throw new ConfigError(`${file}:1: expected a map of settings at the top level (like falco.yaml), got something else`);
  }
  const source = { name: file, doc, lines };
  return { file, root: new ConfigSection(source, '', isMap(contents) ? contents : null, 0) };
}
