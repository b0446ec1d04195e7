import { defineConfig } from 'vitest/config';

// Tests run against the compiled package in dist/ (npm test builds it first), so the worker
// thread loads exactly what a user's process loads.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two cores: end-to-end files each run a receiver and a worker; one file at a time keeps them honest.
    fileParallelism: false,
  },
});
