#!/usr/bin/env bash
# The whole test suite, exactly what CI runs: setup, type check, lint, policy tests, vitest.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
bash scripts/install-python-sdk.sh   # the Python SDK end-to-end test needs it
bash scripts/install-chromium.sh     # the console browser test (playwright-core + Debian chromium)
# Kafka jars from Maven Central (first run only). The Kafka tests start and stop their own broker
# with scripts/kafka.sh; its watchdog stops it even if a test process dies before its teardown.
bash scripts/kafka.sh prepare
# PostgreSQL 15 server binaries (apt-get when missing). The PostgreSQL tests start a throwaway
# cluster each with scripts/postgres.sh, whose watchdog likewise stops it if a test process dies.
bash scripts/postgres.sh prepare
echo "== type check"
npx tsc --noEmit -p tsconfig.json
echo "== lint (eslint.config.js; import rules in .dependency-cruiser.cjs)"
npm run --silent lint
echo "== policy tests (opa fmt, check, test with coverage)"
bash scripts/test-policies.sh
echo "== vitest"
mkdir -p build
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json=build/vitest.json || status=$?
# One plain summary line for CI logs, from vitest's own JSON report.
node -e '
  const r = JSON.parse(require("fs").readFileSync("build/vitest.json", "utf8"));
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
' || true
exit "$status"
