#!/usr/bin/env bash
# Policy checks, as CI runs them: formatting (no diff allowed), strict compile, the Rego unit
# tests with a coverage floor. Uses the pinned OPA CLI from .tools/bin (scripts/install-opa.sh).
#
# Regal (the Rego linter) is not run: `go install github.com/styrainc/regal@…` (and its new home
# github.com/open-policy-agent/regal) is refused by the Go module proxy this project builds
# with (403 "module version not available"), and we install tools from source only.
set -euo pipefail
cd "$(dirname "$0")/.."

OPA="${SLUICE_OPA_BIN:-.tools/bin/opa}"
POLICIES="${1:-policies}"
MIN_COVERAGE=90
[ -x "$OPA" ] || bash scripts/install-opa.sh

echo "-- opa fmt"
if ! "$OPA" fmt --list --fail "$POLICIES"; then
  echo "test-policies: the files above are not formatted; run: $OPA fmt -w $POLICIES" >&2
  exit 1
fi

echo "-- opa check --strict --schema (the policy input's JSON Schema, generated from the gateway's types)"
# A rule reading a field the gateway never sets (input.identity.group for groups) is a type error here.
"$OPA" check --strict --schema gateway/policy/input.schema.json "$POLICIES"

echo "-- opa test"
# Failures first, each with its file and line, then the summary; the traces only when something
# failed (a verbose run cut to its last lines used to hide the failing tests' names).
if ! "$OPA" test "$POLICIES"; then
  echo "-- traces of the failing tests"
  "$OPA" test "$POLICIES" -v 2>&1 | awk '/: FAIL \(/ { show = 1 } /: PASS \(/ { show = 0 } show' || true
  echo "test-policies: Rego tests failed (listed above with file:line)" >&2
  exit 1
fi

echo "-- coverage (minimum ${MIN_COVERAGE}%)"
"$OPA" test "$POLICIES" --coverage --format json | MIN="$MIN_COVERAGE" node -e '
  let raw = "";
  process.stdin.on("data", (d) => (raw += d)).on("end", () => {
    const report = JSON.parse(raw);
    const min = Number(process.env.MIN);
    // The floor applies to the policy files; *_test.rego files would inflate the total.
    let covered = 0;
    let total = 0;
    // Each file on its own as well as the total: a new file at 0 % must not hide behind the rest.
    const below = [];
    for (const [file, f] of Object.entries(report.files ?? {})) {
      if (file.endsWith("_test.rego")) continue;
      covered += f.covered_lines ?? 0;
      total += (f.covered_lines ?? 0) + (f.not_covered_lines ?? 0);
      const missed = (f.not_covered ?? []).map((r) => `${r.start.row}-${r.end.row}`).join(", ");
      console.log(`  ${file}: ${f.coverage ?? 0}%${missed ? ` (lines not covered: ${missed})` : ""}`);
      if (!((f.coverage ?? 0) >= min)) below.push(`${file} (${f.coverage ?? 0}%)`);
    }
    const pct = total === 0 ? 0 : Math.floor((covered / total) * 1000) / 10;
    console.log(`  policy files: ${pct}% (${covered}/${total} lines)`);
    if (!(pct >= min)) {
      console.error(`test-policies: coverage ${pct}% is below ${min}%`);
      process.exit(1);
    }
    if (below.length > 0) {
      console.error(`test-policies: coverage below ${min}% in ${below.join(", ")}`);
      process.exit(1);
    }
  });
'

echo "-- bundle build, loaded by the gateway's own engine"
# What a gateway would refuse at load (an unsafe custom-entity or keyword pattern, text rules it
# cannot compile) fails here, not at deploy time.
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
node gateway/bin/sluice.mjs bundle build --policies "$POLICIES" --out "$out/sluice.tar.gz" --revision policy-test
