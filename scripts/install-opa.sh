#!/usr/bin/env bash
# Installs the pinned OPA CLI into .tools/bin (built from source with `go install`: no binary
# downloads to trust) and copies OPA's builtin_metadata.json beside it. The metadata says
# which builtins are native to OPA's WASM runtime; gateway/policy/capabilities.ts reads it to
# build bundles that only use builtins opa-wasm can run. Idempotent: nothing happens when the
# right version and its metadata are already there.
set -euo pipefail
cd "$(dirname "$0")/.."

OPA_VERSION=v1.22.2
OPA_MODULE=github.com/open-policy-agent/opa
TOOLS_BIN="$PWD/.tools/bin"
METADATA="$PWD/.tools/share/opa/builtin_metadata.json"

installed_version() {
  [ -x "$TOOLS_BIN/opa" ] || return 0
  "$TOOLS_BIN/opa" version 2>/dev/null | awk '/^Version:/ { print "v" $2 }'
}

if [ "$(installed_version)" != "$OPA_VERSION" ]; then
  command -v go >/dev/null || { echo "install-opa: Go is required to build OPA $OPA_VERSION (https://go.dev/dl/)" >&2; exit 1; }
  echo "install-opa: building OPA $OPA_VERSION into .tools/bin (go install)"
  mkdir -p "$TOOLS_BIN"
  GOBIN="$TOOLS_BIN" go install "$OPA_MODULE@$OPA_VERSION"
  rm -f "$METADATA" # the metadata must match the binary: refresh it below
fi

if [ ! -s "$METADATA" ]; then
  # `go mod download` works outside a module and reuses the cache `go install` just filled.
  src_dir="$(cd /tmp && go mod download -json "$OPA_MODULE@$OPA_VERSION" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).Dir))')"
  mkdir -p "$(dirname "$METADATA")"
  cp "$src_dir/builtin_metadata.json" "$METADATA"
  chmod 644 "$METADATA"
fi

echo "install-opa: $("$TOOLS_BIN/opa" version | head -1) at .tools/bin/opa"
