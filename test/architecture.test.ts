// The layer list in docs/architecture.md is the rule: every import between folders of src/ must
// point to a layer below its own. Reading the picture from the doc keeps doc and code in step.

import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SRC = join(ROOT, 'src');

/** Folder name → its layer's rank (0 = top), from the ```layers block of docs/architecture.md. */
function layerRanks(): Map<string, number> {
  const doc = readFileSync(join(ROOT, 'docs/architecture.md'), 'utf8');
  const block = /```layers\n([\s\S]*?)```/.exec(doc);
  if (!block) throw new Error('docs/architecture.md has no ```layers block');
  const ranks = new Map<string, number>();
  block[1]!
    .split('\n')
    .filter((line) => line.trim() !== '')
    .forEach((line, rank) => {
      // Folder names come first on the line, before the description's run of spaces.
      for (const folder of line.split(/\s{2,}/)[0]!.trim().split(/\s+/)) ranks.set(folder, rank);
    });
  return ranks;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

/** Every import from one top-level folder of src/ into another: [from, to, file]. */
function crossFolderImports(): [string, string, string][] {
  const out: [string, string, string][] = [];
  for (const file of sourceFiles(SRC)) {
    const from = relative(SRC, file).split('/')[0]!;
    if (!relative(SRC, file).includes('/')) continue; // src/index.ts: the public surface, imports anything
    for (const m of readFileSync(file, 'utf8').matchAll(/from\s+'(\.[^']+)'/g)) {
      const target = relative(SRC, normalize(join(dirname(file), m[1]!)));
      const to = target.split('/')[0]!;
      if (target.startsWith('..') || to === from || !target.includes('/')) continue;
      out.push([from, to, relative(ROOT, file)]);
    }
  }
  return out;
}

describe('architecture', () => {
  it('every folder of src/ has a layer in docs/architecture.md', () => {
    const ranks = layerRanks();
    const folders = readdirSync(SRC).filter((name) => statSync(join(SRC, name)).isDirectory());
    expect(folders.filter((folder) => !ranks.has(folder))).toEqual([]);
    expect([...ranks.keys()].filter((folder) => !folders.includes(folder))).toEqual([]);
  });

  it('imports between folders only point down the layer list', () => {
    const ranks = layerRanks();
    const imports = crossFolderImports();
    expect(imports.length).toBeGreaterThan(20); // the scan found the imports it checks
    const upward = imports
      .filter(([from, to]) => ranks.get(to)! <= ranks.get(from)!)
      .map(([from, to, file]) => `${file}: ${from} -> ${to}`);
    expect(upward).toEqual([]);
  });
});
