#!/usr/bin/env bash
# The nightly workflow's steps (.github/workflows/nightly.yml) against a
# local `ipconform emulate` instead of a cloud, so CI proves the example
# works without an account: the harness through a profile
# (IPCONFORM_TARGET), in two hash partitions, each writing its reports
# (IPCONFORM_REPORT_DIR), then `ipconform report merge` of the shards.
# Loopback only. Needs cargo-nextest.
set -euo pipefail
cd "$(dirname "$0")/../.."

work=$(mktemp -d)
emulator=""
cleanup() {
  if [ -n "$emulator" ]; then kill "$emulator" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

cargo build --quiet
bin="${CARGO_TARGET_DIR:-target}/debug/ipconform"
"$bin" emulate --listen 127.0.0.1:0 > "$work/emulate.out" &
emulator=$!
for _ in $(seq 100); do
  if [ -s "$work/emulate.out" ]; then break; fi
  sleep 0.1
done
url=$(head -n 1 "$work/emulate.out" | sed 's/^listening on //')
echo "emulator at $url"
sed "s#http://127.0.0.1:8080#$url#" profiles/emulator.yaml > "$work/profile.yaml"
# shellcheck disable=SC1091
. profiles/emulator.env

export IPCONFORM_TARGET="$work/profile.yaml"
export IPCONFORM_STATE_DIR="$work/state"
# A handful of ECS and ENS cases: every one is a process under nextest.
filter='test(/::alibaba-ecs::assign::ecs-assign-(explicit|count)/) | test(/::alibaba-ens::unassign::ens-unassign-(one|unknown)/)'
"$bin" run --target "$IPCONFORM_TARGET" --dry-run | tail -n 1
for k in 1 2; do
  IPCONFORM_REPORT_DIR="$work/shard-$k" cargo nextest run --test conformance \
    --partition "hash:$k/2" --test-threads 1 --no-fail-fast -E "$filter"
done
expected=$(cargo nextest list --test conformance -E "$filter" --message-format oneline | grep -c 'emulator-as-cloud::')
"$bin" sweep --target "$IPCONFORM_TARGET" | tail -n 1
"$bin" report merge "$work"/shard-1 "$work"/shard-2 --out "$work/merged" | tee "$work/merge.out"
grep -q "($expected cases: $expected conform" "$work/merge.out" || {
  echo "expected $expected conforming cases in the merged report" >&2
  exit 1
}
for f in report.json junit.xml report.md report.html; do
  test -s "$work/merged/$f"
done
echo "nightly example: $expected cases in two shards through a profile, merged"
