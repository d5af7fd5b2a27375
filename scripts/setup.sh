#!/usr/bin/env bash
# Installs everything Sluice needs on a fresh machine, idempotently: npm packages (from the
# lock file), the pinned OPA CLI (built with `go install` into .tools/), the gateway compiled to
# dist/ (skipped when current; sluice.mjs falls back to tsx when it is not), and the policy bundle.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error
fi
bash scripts/install-opa.sh
node gateway/bin/dist.mjs
node gateway/bin/sluice.mjs bundle build
