import { defineConfig } from 'vitest/config';

// Tests run against the compiled package in dist/ (npm test builds it first), so the worker
// thread loads exactly what a user's process loads.
//
// Two tiers. unit: pure, in-process tests (no child process, no receiver and transmitter
// pipeline), files in parallel worker threads: `npm run test:unit`, the developer's loop.
// e2e: everything else, real processes, sockets and workers: `npm run test:e2e`. `npm test`
// runs both, unit first.
const UNIT = [
  'test/alert-log.test.ts',
  'test/architecture.test.ts',
  'test/codec.test.ts',
  'test/config.test.ts',
  'test/falco-json.test.ts',
  'test/metrics-registry.test.ts',
  'test/output-watch.test.ts',
  'test/publish-request.test.ts',
  'test/report-html.test.ts',
  'test/ring.test.ts',
  'test/spool-reader.test.ts',
];

export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 60_000,
    // vitest 3 sizes each pool from this root config, not per project: forks (e2e) one file at a
    // time, threads (unit) as many files as cores.
    poolOptions: {
      // Two cores: end-to-end files each run a receiver and a worker; one file at a time keeps them honest.
      forks: { maxForks: 1, minForks: 1 },
      threads: { maxThreads: 4, minThreads: 1 },
    },
    projects: [
      { extends: true, test: { name: 'unit', include: UNIT, pool: 'threads', sequence: { groupOrder: 0 } } },
      {
        extends: true,
        test: { name: 'e2e', include: ['test/**/*.test.ts'], exclude: UNIT, pool: 'forks', sequence: { groupOrder: 1 } },
      },
    ],
  },
});
