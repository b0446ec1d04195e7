#!/usr/bin/env node
// `npm test` and `npm run bench` need a few programs from Debian (the tests start real servers
// from the test itself). This installs the missing ones with apt-get when run as root, so that
// `npm ci` then `npm test` do all the set-up on a fresh machine; otherwise it stops with a
// message naming the packages. Nothing else (npm start, the library, the CLI) needs them.

import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Each program the tests run, the Debian package that has it, and what needs it. */
const DEBIAN_PACKAGES = [
  { command: 'nats-server', package: 'nats-server', neededBy: 'the NATS JetStream tests and bench (test/helpers/nats.ts)' },
];

function onPath(command) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

function run(argv) {
  process.stderr.write(`provision: ${argv.join(' ')}\n`);
  const result = spawnSync(argv[0], argv.slice(1), { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  if (result.error) throw new Error(`${argv[0]}: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`${argv.join(' ')} exited with ${result.status ?? result.signal}`);
}

const missing = DEBIAN_PACKAGES.filter((p) => !onPath(p.command));
if (missing.length > 0) {
  const names = missing.map((p) => p.package).join(' ');
  const why = missing.map((p) => `  ${p.command} (Debian package ${p.package}): ${p.neededBy}`).join('\n');
  if (process.getuid?.() !== 0) {
    process.stderr.write(`provision: missing programs:\n${why}\nInstall them with: sudo apt-get install -y ${names}\n(or run npm test as root, which installs them)\n`);
    process.exit(1);
  }
  try {
    run(['apt-get', 'update']);
    run(['apt-get', 'install', '-y', '--no-install-recommends', ...missing.map((p) => p.package)]);
  } catch (err) {
    process.stderr.write(`provision: installing ${names} failed: ${err.message}\n${why}\n`);
    process.exit(1);
  }
  const still = missing.filter((p) => !onPath(p.command));
  if (still.length > 0) {
    process.stderr.write(`provision: installed ${names}, but ${still.map((p) => p.command).join(', ')} is still not on PATH (${process.env.PATH})\n`);
    process.exit(1);
  }
}
