// Generated code is committed; this fails when it no longer matches proto/ (run `npm run gen`).

import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from './helpers/pki.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)],
  );
}

describe('generated code', () => {
  it('src/gen is what `npm run gen` makes from proto/', () => {
    const out = tempDir('fgo-gen-');
    execFileSync(join(ROOT, 'node_modules/.bin/buf'), ['generate', '--output', out], { cwd: ROOT, stdio: 'pipe' });
    const committed = join(ROOT, 'src/gen');
    const fresh = join(out, 'src/gen');
    const names = (dir: string) => files(dir).map((f) => relative(dir, f)).sort();
    expect(names(fresh)).toEqual(names(committed));
    for (const name of names(fresh)) {
      expect(readFileSync(join(fresh, name), 'utf8'), `${name} is stale: run npm run gen`).toBe(readFileSync(join(committed, name), 'utf8'));
    }
  });
});
