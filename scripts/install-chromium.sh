#!/usr/bin/env bash
# Debian's chromium for the console's browser test (driven by playwright-core, which downloads no
# browser). Installed with apt-get when missing; needs root, as on CI and the dev machines.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
echo "setup: installing Debian chromium for the console browser test"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
