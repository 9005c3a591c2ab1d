#!/usr/bin/env bash
# The browser check, end to end: a run with one failing case (report.html)
# and a vendor comparison (comparison.html) on the embedded emulator, each
# opened in headless Chromium by check.py, which checks what renders and
# leaves a screenshot beside each file.
#
#   tests/browser/run.sh [OUT_DIR]        default OUT_DIR: target/browser-check
#
# Environment: IPCONFORM_BIN (default: cargo build, then the debug binary),
# SDK_VENV (the Python with websocket-client; default tests/sdk/.venv, which
# tests/sdk/run.sh creates), CHROMIUM (default: chromium on PATH).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="${1:-$repo/target/browser-check}"
python="${SDK_VENV:-$repo/tests/sdk/.venv}/bin/python"

die() {
  echo "tests/browser/run.sh: error: $*" >&2
  exit 2
}

[[ -x "$python" ]] || die "no Python at $python: run tests/sdk/run.sh first (it builds the venv), or set SDK_VENV"
"$python" -c 'import websocket' 2>/dev/null || die "$python lacks websocket-client (pinned in tests/sdk/requirements.txt)"

if [[ -n "${IPCONFORM_BIN:-}" ]]; then
  bin="$IPCONFORM_BIN"
else
  (cd "$repo" && cargo build --quiet --bin ipconform)
  target_dir="$(cd "$repo" && cargo metadata --no-deps --format-version 1 |
    "$python" -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
  bin="$target_dir/debug/ipconform"
fi

rm -rf "$out"
mkdir -p "$out/run" "$out/compare"

# The run fails on purpose (one case expects the wrong code): exit 1 is
# the expected outcome, anything else is not.
set +e
(cd "$repo" && "$bin" run --cases "$here/cases" --report-dir "$out/run" >"$out/run.log" 2>&1)
status=$?
set -e
[[ $status -eq 1 ]] || { cat "$out/run.log"; die "ipconform run exited $status, expected 1 (one case fails on purpose)"; }

set +e
(cd "$repo" && "$bin" compare --report-dir "$out/compare" >"$out/compare.log" 2>&1)
status=$?
set -e
[[ $status -le 1 ]] || { cat "$out/compare.log"; die "ipconform compare exited $status"; }

report="$(find "$out/run" -name report.html | head -n 1)"
comparison="$(find "$out/compare" -name comparison.html | head -n 1)"
[[ -f "$report" ]] || die "no report.html under $out/run"
[[ -f "$comparison" ]] || die "no comparison.html under $out/compare"

"$python" "$here/check.py" "$report" "$comparison"
echo "screenshots: $(dirname "$report")/report.png $(dirname "$comparison")/comparison.png"
