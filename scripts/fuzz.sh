#!/usr/bin/env bash
# Long fuzzing runs (not part of `make test`): each target for FUZZ_SECONDS (default 600) with
# libFuzzer, on the stable toolchain (no sanitizer; Rust's own checks catch panics and overflows
# in the debug assertions cargo-fuzz turns on). Installs cargo-fuzz when missing.
# Usage: scripts/fuzz.sh [target...]   (targets: filter patch_path scim_bodies)
set -euo pipefail
"$(dirname "$0")/build-deps.sh"
cd "$(dirname "$0")/../fuzz"
seconds="${FUZZ_SECONDS:-600}"
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(filter patch_path scim_bodies)
cargo fuzz build --sanitizer none -O
for target in "${targets[@]}"; do
  echo "== fuzzing $target for ${seconds}s"
  mkdir -p "corpus/$target"
  # New inputs go to corpus/ (not committed); seeds/ holds committed IdP-shaped starting points.
  cargo fuzz run --sanitizer none -O "$target" "corpus/$target" "seeds/$target" -- \
    -max_total_time="$seconds" -max_len=8192 2>&1 |
    grep -E "^(#[0-9]+\s+DONE|Done|INFO: -max_total_time|==[0-9]+== ERROR|SUMMARY)|panicked" || true
  if ls "artifacts/$target"/crash-* >/dev/null 2>&1; then
    echo "crash inputs in fuzz/artifacts/$target" >&2
    exit 1
  fi
done
