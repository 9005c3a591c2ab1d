#!/usr/bin/env bash
# The vendor-SDK conformance suite: the vendors' official Python SDKs against
# `ipconform emulate`. The one entry point, for people and for CI.
#
#   tests/sdk/run.sh [pytest arguments...]      e.g. tests/sdk/run.sh -k ens -x
#
# Environment:
#   SDK_VENV          the virtual environment (default tests/sdk/.venv); created
#                     if missing, then given the pins of requirements.txt
#   PYTHON            the interpreter that creates it (default python3)
#   IPCONFORM_BIN     the ipconform binary; default: `cargo build`, then
#                     <target dir>/debug/ipconform (CARGO_TARGET_DIR respected)
#   IPCONFORM_WORLD   the world both emulators serve (default cases/worlds/default.yaml)
#
# Two emulators listen on 127.0.0.1 while pytest runs: one with a true clock and
# one whose clock runs an hour ahead (every SDK timestamp is then stale). Both are
# stopped on exit, whatever happens.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
stale_offset=3600

die() {
  echo "tests/sdk/run.sh: error: $*" >&2
  exit 2
}

# --- Python and the virtual environment ------------------------------------

python="${PYTHON:-python3}"
command -v "$python" >/dev/null 2>&1 ||
  die "'$python' not found: install Python 3 (python3 and its venv module, e.g. apt-get install python3 python3-venv), or set PYTHON"
"$python" -c 'import venv, ensurepip' >/dev/null 2>&1 ||
  die "'$python' has no working venv/ensurepip module: install it (e.g. apt-get install python3-venv)"

venv="${SDK_VENV:-$here/.venv}"
if [[ ! -x "$venv/bin/python" ]]; then
  echo "== creating the virtual environment $venv"
  if ! "$python" -m venv "$venv"; then
    rm -rf "$venv"
    die "'$python -m venv $venv' failed (is python3-venv installed?)"
  fi
fi

# Install the pins when requirements.txt changed since the last install.
# --no-deps: only what requirements.txt names is installed, nothing resolved
# afresh; `pip check` then fails if this Python needs a dependency it lacks.
stamp="$venv/.ipconform-sdk-requirements"
wanted="$(cat "$here/requirements.txt" <("$venv/bin/python" -VV) | cksum)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$wanted" ]]; then
  echo "== installing tests/sdk/requirements.txt into $venv"
  "$venv/bin/python" -m pip install --disable-pip-version-check --quiet --no-deps \
    -r "$here/requirements.txt"
  "$venv/bin/python" -m pip check --disable-pip-version-check ||
    die "the pins of requirements.txt do not satisfy this Python ($("$venv/bin/python" -V)); they were frozen on Python 3.11"
  echo "$wanted" >"$stamp"
fi

# --- The ipconform binary ---------------------------------------------------

if [[ -n "${IPCONFORM_BIN:-}" ]]; then
  bin="$IPCONFORM_BIN"
else
  command -v cargo >/dev/null 2>&1 || die "cargo not found: install Rust, or set IPCONFORM_BIN"
  echo "== cargo build"
  (cd "$repo" && cargo build --quiet --bin ipconform)
  # The target directory as cargo sees it: CARGO_TARGET_DIR, config, or target/.
  target_dir="$(cd "$repo" && cargo metadata --no-deps --format-version 1 |
    "$python" -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
  bin="$target_dir/debug/ipconform"
fi
[[ -x "$bin" ]] || die "no ipconform binary at '$bin'"

world="${IPCONFORM_WORLD:-$repo/cases/worlds/default.yaml}"
[[ -f "$world" ]] || die "no world file at '$world'"
world="$(cd "$(dirname "$world")" && pwd)/$(basename "$world")"

# --- The emulators ------------------------------------------------------------

work="$(mktemp -d "${TMPDIR:-/tmp}/ipconform-sdk.XXXXXX")"
pids=()
cleanup() {
  local pid
  for pid in ${pids[@]+"${pids[@]}"}; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start NAME ARGS...: start an emulator, wait for its first stdout line
# `listening on http://127.0.0.1:PORT`, and put the URL in $url.
url=""
start() {
  local name="$1" line="" pid i
  shift
  "$bin" emulate --listen 127.0.0.1:0 --world "$world" "$@" >"$work/$name.out" 2>"$work/$name.err" &
  pid=$!
  pids+=("$pid")
  for ((i = 0; i < 200; i++)); do
    # A whole first line only (read fails until its newline is written).
    if { IFS= read -r line <"$work/$name.out"; } 2>/dev/null &&
      [[ "$line" =~ ^listening\ on\ (http://127\.0\.0\.1:[0-9]+)$ ]]; then
      url="${BASH_REMATCH[1]}"
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      cat "$work/$name.err" >&2
      die "the $name emulator exited before listening"
    fi
    sleep 0.05
  done
  cat "$work/$name.err" >&2
  die "the $name emulator did not print 'listening on http://127.0.0.1:PORT' within 10 s (got: '$line')"
}

start main
main_url="$url"
start stale --clock-offset "$stale_offset"
stale_url="$url"
echo "== emulators: $main_url, $stale_url (clock +${stale_offset}s); world $world"

# --- The tests ------------------------------------------------------------------

# Only 127.0.0.1 is spoken to: no proxy (the tea SDK applies HTTP_PROXY even to
# loopback), and conftest.py refuses any other address.
(
  cd "$here"
  export IPCONFORM_URL="$main_url"
  export IPCONFORM_STALE_URL="$stale_url"
  export IPCONFORM_STALE_CLOCK_OFFSET="$stale_offset"
  export IPCONFORM_WORLD="$world"
  export PYTHONDONTWRITEBYTECODE=1
  unset HTTP_PROXY http_proxy HTTPS_PROXY https_proxy ALL_PROXY all_proxy
  export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
  "$venv/bin/python" -m pytest "$@"
)
