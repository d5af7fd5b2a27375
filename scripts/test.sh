#!/usr/bin/env bash
# The whole test suite, exactly what CI runs: setup, type check, policy tests, vitest.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
echo "== type check"
npx tsc --noEmit -p tsconfig.json
echo "== policy tests (opa fmt, check, test with coverage)"
bash scripts/test-policies.sh
echo "== vitest"
npx vitest run
