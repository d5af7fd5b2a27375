#!/usr/bin/env bash
# Builds the OpenTelemetry Collector the OTLP tests run (scripts/otelcol: the OTLP receiver and the
# file exporter at a pinned release, as the collector builder would generate it) into
# .tools/bin/otelcol-sluice, from source with `go build` against the pinned go.mod/go.sum: no
# binary downloads to trust. Idempotent: nothing happens when the binary was built from exactly
# these sources. A cold build (empty Go caches) takes about 2 minutes, so setup.sh runs this in
# the background beside its other steps.
set -euo pipefail
cd "$(dirname "$0")/.."

SRC="$PWD/scripts/otelcol"
TOOLS_BIN="$PWD/.tools/bin"
BIN="$TOOLS_BIN/otelcol-sluice"
STAMP="$PWD/.tools/share/otelcol/sources.sha256"

sources_hash() { cat "$SRC/go.mod" "$SRC/go.sum" "$SRC/main.go" | sha256sum | cut -d' ' -f1; }

if [ -x "$BIN" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$(sources_hash)" ]; then
  echo "otelcol: $("$BIN" --version 2>/dev/null | head -1) at .tools/bin/otelcol-sluice"
  exit 0
fi
command -v go >/dev/null || { echo "otelcol: Go is required to build the collector (https://go.dev/dl/)" >&2; exit 1; }
echo "otelcol: building the OpenTelemetry Collector (OTLP receiver + file exporter) into .tools/bin"
mkdir -p "$TOOLS_BIN" "$(dirname "$STAMP")"
# -mod=readonly: exactly the versions go.sum pins; a temp name then rename, so a killed build
# never leaves a half-written binary that the stamp would vouch for.
(cd "$SRC" && GOFLAGS=-mod=readonly go build -trimpath -buildvcs=false -o "$BIN.tmp.$$" .)
mv "$BIN.tmp.$$" "$BIN"
sources_hash >"$STAMP"
echo "otelcol: $("$BIN" --version | head -1) at .tools/bin/otelcol-sluice"
