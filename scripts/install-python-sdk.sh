#!/usr/bin/env bash
# Installs the official Python SDK (pinned) into the git-ignored .venv, for the Python end-to-end test.
set -euo pipefail
cd "$(dirname "$0")/.."

ANTHROPIC_PY_VERSION=2.14.0
if [ -x .venv/bin/python ] && .venv/bin/python -c "import anthropic, sys; sys.exit(anthropic.__version__ != '$ANTHROPIC_PY_VERSION')" 2>/dev/null; then
  exit 0
fi
echo "setup: installing the Python anthropic SDK $ANTHROPIC_PY_VERSION into .venv"
python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check "anthropic==$ANTHROPIC_PY_VERSION"
