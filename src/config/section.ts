// One map of a config file, read key by key with types checked, so every section validates the
// same way: a wrong value is an error naming file, line and key path; the keys a reader never
// asked for are the unknown ones (typos), reported as the section's policy says.

import { isAlias, isMap, isScalar, isSeq, type Document, type LineCounter, type Node as YamlNode, type Pair, type YAMLMap } from 'yaml';
import { checkString, describe } from './checks.js';
import { closest } from './spelling.js';

/** A bad config file or value. The message names the file, the line and the key path. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Where notes ("accepted but unused") and warnings (unknown keys) go. */
export type Report = (level: 'note' | 'warning', message: string) => void;

/** What to do with a key that no reader asked for. */
export type UnknownKeyPolicy = 'error' | 'warn';

/** yaml-cpp (Falco's parser) reads these words as booleans too; YAML 1.2 leaves them strings. */
const TRUE_WORDS = new Set(['y', 'Y', 'yes', 'Yes', 'YES', 'on', 'On', 'ON']);
const FALSE_WORDS = new Set(['n', 'N', 'no', 'No', 'NO', 'off', 'Off', 'OFF']);

export interface SourceFile {
  /** The file name as the user gave it: every message starts with it. */
  readonly name: string;
  readonly doc: Document.Parsed;
  readonly lines: LineCounter;
}

export class ConfigSection {
  private readonly asked = new Set<string>();

  /**
   * @param path dotted key path of this map ('' for the top level)
   * @param map the map, or null when the file does not have this section
   * @param offset where the section starts in the file (for errors about missing keys)
   */
  constructor(
    private readonly source: SourceFile,
    readonly path: string,
    private readonly map: YAMLMap | null,
    private readonly offset: number,
  ) {}

  get file(): string {
    return this.source.name;
  }

  /** The section's keys, in file order. */
  keys(): string[] {
    return (this.map?.items ?? []).map((pair) => keyName(pair));
  }

  /** Whether the key is present with a value (an empty `key:` counts as absent). */
  has(key: string): boolean {
    const node = this.node(key);
    return node !== undefined && !(isScalar(node) && node.value === null);
  }

  /** The dotted path of a key of this section, as messages name it. */
  keyPath(key: string): string {
    return this.path ? `${this.path}.${key}` : key;
  }

  /** `file:line` of a key, or of this section when the key is absent. */
  where(key?: string): string {
    const pair = key === undefined ? undefined : this.pair(key);
    const at = nodeOffset(pair?.key) ?? nodeOffset(pair?.value) ?? this.offset;
    return `${this.source.name}:${this.source.lines.linePos(at).line}`;
  }

  /** Throws the ConfigError for a key: `file:line: path.key: problem`. */
  fail(key: string, problem: string): never {
    throw new ConfigError(`${this.where(key)}: ${this.keyPath(key)}: ${problem}`);
  }

  /**
   * The key's value checked by `check` (which throws a TypeError saying what it expected), or
   * undefined when absent. Marks the key as known.
   */
  value<T>(key: string, check: (value: unknown) => T): T | undefined {
    this.asked.add(key);
    const value = this.plain(key);
    if (value === undefined || value === null) return undefined;
    try {
      return check(value);
    } catch (err) {
      if (err instanceof TypeError) this.fail(key, err.message);
      throw err;
    }
  }

  string(key: string): string | undefined {
    return this.value(key, checkString);
  }

  /** A file path; Falco's files write "" for "not set", so an empty string is absent. */
  filePath(key: string): string | undefined {
    const value = this.string(key);
    return value === '' ? undefined : value;
  }

  boolean(key: string): boolean | undefined {
    return this.value(key, (v) => {
      if (typeof v === 'boolean') return v;
      if (typeof v === 'string' && TRUE_WORDS.has(v)) return true;
      if (typeof v === 'string' && FALSE_WORDS.has(v)) return false;
      throw new TypeError(`expected true or false, got ${describe(v)}`);
    });
  }

  /** A list of strings, each checked; a single string is taken as a list of one. */
  list<T>(key: string, check: (value: unknown) => T): T[] | undefined {
    this.asked.add(key);
    const node = this.node(key);
    if (node === undefined || (isScalar(node) && node.value === null)) return undefined;
    const items = isSeq(node) ? node.items : [node];
    return items.map((item, i) => {
      const resolved = this.resolve(item as YamlNode);
      const value = resolved === undefined ? undefined : plainValue(resolved);
      try {
        return check(value);
      } catch (err) {
        if (err instanceof TypeError) {
          const at = nodeOffset(item as YamlNode) ?? this.offset;
          const index = isSeq(node) ? `[${i}]` : '';
          throw new ConfigError(`${this.source.name}:${this.source.lines.linePos(at).line}: ${this.keyPath(key)}${index}: ${err.message}`);
        }
        throw err;
      }
    });
  }

  /** A nested map; absent (or empty) gives an empty section, anything else but a map is an error. */
  section(key: string): ConfigSection {
    this.asked.add(key);
    const pair = this.pair(key);
    const node = this.resolve(pair?.value as YamlNode | undefined);
    const at = nodeOffset(pair?.key) ?? this.offset;
    if (node === undefined || (isScalar(node) && node.value === null)) {
      return new ConfigSection(this.source, this.keyPath(key), null, at);
    }
    if (!isMap(node)) this.fail(key, `expected a map of settings, got ${describe(plainValue(node))}`);
    return new ConfigSection(this.source, this.keyPath(key), node, at);
  }

  /**
   * Reports the keys no reader asked for: an error naming the first, or one warning each.
   * Call after reading every key the section knows.
   */
  finish(policy: UnknownKeyPolicy, report: Report): void {
    const known = [...this.asked];
    for (const key of this.keys()) {
      if (this.asked.has(key)) continue;
      const near = closest(key, known);
      const problem = `unknown key${near ? `; did you mean ${near}?` : ''} (known here: ${known.join(', ')})`;
      if (policy === 'error') this.fail(key, problem);
      report('warning', `${this.where(key)}: ${this.keyPath(key)}: ${problem}; ignored`);
    }
  }

  private pair(key: string): Pair | undefined {
    return this.map?.items.find((pair) => keyName(pair) === key) as Pair | undefined;
  }

  private node(key: string): YamlNode | undefined {
    return this.resolve(this.pair(key)?.value as YamlNode | undefined);
  }

  private plain(key: string): unknown {
    const node = this.node(key);
    return node === undefined ? undefined : plainValue(node);
  }

  /** Follows YAML aliases (`*name`) to the node they stand for. */
  private resolve(node: YamlNode | undefined): YamlNode | undefined {
    return isAlias(node) ? (node.resolve(this.source.doc) as YamlNode | undefined) : node;
  }
}

function keyName(pair: Pair): string {
  return String(isScalar(pair.key) ? pair.key.value : pair.key);
}

function nodeOffset(node: unknown): number | undefined {
  return isScalar(node) || isMap(node) || isSeq(node) || isAlias(node) ? node.range?.[0] : undefined;
}

/** A scalar's value; lists and maps as empty markers (only their kind is ever shown). */
function plainValue(node: YamlNode): unknown {
  if (isScalar(node)) return node.value;
  if (isSeq(node)) return [];
  if (isMap(node)) return {};
  return undefined;
}

/**
 * The object without its undefined properties: readers build options with every key and let
 * this drop the absent ones, so that `{ ...defaults, ...options }` keeps the defaults.
 */
export function definedOnly<T extends object>(options: T): T {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as T;
}
