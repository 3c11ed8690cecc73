#!/usr/bin/env bash
# Builds the cargo-fuzz targets and runs each for a while over its seed corpus.
#
#   fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]     (default: 300 s; all four targets)
#
# New inputs go to fuzz/target/corpus/<target> (not committed); fuzz/corpus/<target> holds the
# committed seeds and is only read. A crash stops that target and leaves the input in
# fuzz/artifacts/<target>/; the script exits non-zero if any target crashed.
# cargo-fuzz needs nightly's -Z flags; RUSTC_BOOTSTRAP=1 lets the stable toolchain take them.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-300}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(token_parse rewrite_html rewrite_text api_json)
export RUSTC_BOOTSTRAP=1
cargo fuzz build
status=0
for t in "${targets[@]}"; do
  mkdir -p "fuzz/target/corpus/$t" "fuzz/artifacts/$t"
  echo "== $t for ${secs}s"
  if ! cargo fuzz run "$t" "fuzz/target/corpus/$t" "fuzz/corpus/$t" -- \
      -max_total_time="$secs" -timeout=10 -max_len=16384 -print_final_stats=1 2>&1 | tee "fuzz/target/$t.log" | grep -E "^(#[0-9]+[[:space:]]+(INITED|DONE)|stat::|==[0-9]+==|SUMMARY|Done )"; then
    :
  fi
  if ! grep -q "^Done " "fuzz/target/$t.log"; then
    echo "!! $t did not finish cleanly: see fuzz/target/$t.log and fuzz/artifacts/$t/"
    status=1
  fi
done
exit $status
