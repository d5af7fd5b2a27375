#!/usr/bin/env bash
# Installs everything Sluice needs on a fresh machine, idempotently: npm packages (from the
# lock file), the pinned OPA CLI (built with `go install` into .tools/), the OpenTelemetry
# Collector for the OTLP tests (scripts/otelcol.sh, in the background), the gateway compiled to
# dist/ (skipped when current; sluice.mjs falls back to tsx when it is not), and the policy bundle.
set -euo pipefail
cd "$(dirname "$0")/.."

# The OpenTelemetry Collector the OTLP tests run takes ~2 minutes to build from cold Go caches:
# built in the background, beside the steps below, and waited for at the end.
mkdir -p build
bash scripts/otelcol.sh >build/otelcol-build.log 2>&1 &
otelcol_pid=$!

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error
fi
bash scripts/install-opa.sh
node gateway/bin/dist.mjs
node gateway/bin/sluice.mjs bundle build
if ! wait "$otelcol_pid"; then
  cat build/otelcol-build.log >&2
  echo "setup: building the OpenTelemetry Collector failed (scripts/otelcol.sh)" >&2
  exit 1
fi
tail -1 build/otelcol-build.log
