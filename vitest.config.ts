import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // Tests import @nexus/auth by its package name, as projects do, but run its sources: no
    // stale dist/, and its coverage counts. The install test (test/packages) checks the tarball.
    alias: { '@nexus/auth': fileURLToPath(new URL('packages/auth/src/index.ts', import.meta.url)) },
  },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
    // `npm run coverage` (scripts/coverage.mjs) turns this on and adds the coverage of the
    // server and CLI processes the tests start; `vitest run --coverage` alone counts only the
    // code that runs inside the test workers.
    coverage: {
      provider: 'v8',
      include: ['src/**/*.ts', 'packages/*/src/**/*.ts'],
      exclude: ['src/generated/**', '**/*.d.ts', '**/*.test.ts'],
      reporter: [['json', { file: 'coverage-final.json' }]],
      reportsDirectory: 'coverage/in-process',
      // The figures of a run with a failing test are still useful (and said to be incomplete).
      reportOnFailure: true,
    },
  },
});
