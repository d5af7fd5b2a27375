/**
 * The control-plane state for tests that build services without a whole gateway: the same
 * stores the gateway opens, on PGlite (in memory, or durable under `dir` to test a restart).
 */
import { resolveConfig } from '../../gateway/config.ts';
import { openState, type StateStores } from '../../gateway/store/open-state.ts';

const quiet = { warn: () => undefined };

export function openTestState(dir?: string): Promise<StateStores> {
  const config = resolveConfig(dir ? { stateDir: dir } : {}, {});
  return openState(config, {}, quiet, { memory: dir === undefined });
}
