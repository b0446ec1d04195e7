// Reads a falco.yaml-style file: YAML 1.2 (as Falco's yaml-cpp), one document, a map at the top.
// Syntax errors name the file, line and column; the result is the top-level ConfigSection.

import { readFileSync } from 'node:fs';
import { LineCounter, isMap, isScalar, parseDocument } from 'yaml';
import { ConfigError, ConfigSection } from './section.js';

/** A parsed config file. Section readers take it and report errors as `file:line: key.path: ...`. */
export interface ConfigDocument {
  /** The file name as given. */
  readonly file: string;
  /** The top-level map. */
  readonly root: ConfigSection;
}

export function loadConfigFile(file: string): ConfigDocument {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`);
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
