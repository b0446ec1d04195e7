// Debian packages the tests, the benchmark and the screenshot need, installed before they run
// (npm's pretest/prebench/prescreenshot), so `npm ci` + `npm test` set up a fresh machine.
// Another package is one more line in NEEDED. As root, what is missing is installed with apt-get;
// as anyone else the script stops and names the packages to install.
//
//   node scripts/provision.mjs            every package in NEEDED
//   node scripts/provision.mjs chromium   only the ones named

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Debian package → the file that shows it is installed. */
const NEEDED = [
  { pkg: 'chromium', file: '/usr/bin/chromium', why: 'the web console tests drive it headless (playwright-core)' },
  { pkg: 'nats-server', file: '/usr/sbin/nats-server', why: 'the NATS JetStream tests and bench start it (test/helpers/nats.ts)' },
];

const named = process.argv.slice(2);
for (const name of named) {
  if (!NEEDED.some((n) => n.pkg === name)) {
    console.error(`provision: unknown package ${name}; known: ${NEEDED.map((n) => n.pkg).join(', ')}`);
    process.exit(2);
  }
}
const missing = NEEDED.filter((n) => (named.length === 0 || named.includes(n.pkg)) && !existsSync(n.file));
if (missing.length === 0) process.exit(0);

const list = missing.map((n) => n.pkg).join(' ');
const reasons = missing.map((n) => `  ${n.pkg} (${n.file}): ${n.why}`).join('\n');
if (process.getuid?.() !== 0 || !existsSync('/usr/bin/apt-get')) {
  console.error(`provision: missing Debian package(s):\n${reasons}\nInstall them as root: apt-get update && apt-get install -y ${list}`);
  process.exit(1);
}

console.error(`provision: installing ${list}:\n${reasons}`);
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
for (const args of [['update'], ['install', '-y', '--no-install-recommends', ...missing.map((n) => n.pkg)]]) {
  const r = spawnSync('apt-get', args, { stdio: ['ignore', 'inherit', 'inherit'], env });
  if (r.status !== 0) {
    console.error(`provision: apt-get ${args.join(' ')} failed (${r.error?.message ?? `exit ${r.status ?? r.signal}`})`);
    process.exit(1);
  }
}
const still = missing.filter((n) => !existsSync(n.file));
if (still.length > 0) {
  console.error(`provision: installed, yet ${still.map((n) => n.file).join(', ')} is still missing`);
  process.exit(1);
}
