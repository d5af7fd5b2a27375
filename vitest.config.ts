import { availableParallelism } from 'node:os';
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
    // vitest's default is one worker per core but one; most files here wait on brokers, databases
    // and child processes rather than compute, so on a 2-core CI machine two workers cut the run
    // from ~12 to ~8.5 minutes.
    maxWorkers: Math.max(2, availableParallelism() - 1),
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
