#!/usr/bin/env bash
# Installs the peer gateways the benchmark compares against, pinned, into the git-ignored .tools/:
# Portkey's open-source gateway from npm and LiteLLM's proxy from PyPI. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/../.."

PORTKEY_VERSION=1.15.2
LITELLM_VERSION=1.108.7
peers=.tools/peers

if [ ! -f "$peers/portkey/node_modules/@portkey-ai/gateway/package.json" ] || ! grep -q "\"version\": \"$PORTKEY_VERSION\"" "$peers/portkey/node_modules/@portkey-ai/gateway/package.json"; then
  echo "bench: installing @portkey-ai/gateway $PORTKEY_VERSION"
  mkdir -p "$peers/portkey"
  npm install --prefix "$peers/portkey" --no-audit --no-fund --loglevel=error "@portkey-ai/gateway@$PORTKEY_VERSION"
fi

if ! "$peers/litellm/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('litellm') != '$LITELLM_VERSION')" 2>/dev/null; then
  echo "bench: installing litellm[proxy] $LITELLM_VERSION (PyPI)"
  python3 -m venv "$peers/litellm"
  "$peers/litellm/bin/pip" install --quiet --disable-pip-version-check "litellm[proxy]==$LITELLM_VERSION"
fi
