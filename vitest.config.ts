import { defineConfig } from 'vitest/config';

/**
 * Two projects, so the fast tests need nothing outside node_modules:
 * - `unit`: test/unit, pure code. No globalSetup, so no OPA CLI, Kafka, browser or network.
 * - `integration`: everything that runs real tools or a whole gateway. Its globalSetup builds the
 *   policy bundle from policies/ with the OPA CLI (`inject('policyBundle')`).
 * `vitest run` with no --project runs both.
 */
export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default'],
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts', 'test/soak/**/*.test.ts'],
          globalSetup: ['test/helpers/global-setup.ts'],
        },
      },
    ],
  },
});
