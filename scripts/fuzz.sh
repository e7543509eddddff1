#!/usr/bin/env bash
# Runs every cargo-fuzz target (AddressSanitizer, libFuzzer) for SECONDS each, two at a time
# (this machine has two cores), keeping corpora in fuzz/corpus and crashes in fuzz/artifacts.
# Needs a nightly toolchain (`rustup toolchain install nightly`) and cargo-fuzz, which it
# installs from crates.io when missing. Exits non-zero when any target found a crash.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/bulwark-fuzz-target}"
cargo +nightly fuzz build -O
bin="$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/release"
mapfile -t targets < <(cargo +nightly fuzz list)
failed=0
run() {
  local target=$1
  mkdir -p "fuzz/corpus/$target" "fuzz/artifacts/$target"
  if "$bin/$target" "fuzz/corpus/$target" -max_total_time="$seconds" -rss_limit_mb=2048 \
      -artifact_prefix="fuzz/artifacts/$target/" >"fuzz/artifacts/$target.log" 2>&1; then
    echo "$target: $(grep -o 'Done [0-9]* runs' "fuzz/artifacts/$target.log" | tail -1), no crash"
  else
    echo "$target: CRASH, see fuzz/artifacts/$target/ and fuzz/artifacts/$target.log"
    return 1
  fi
}
for ((i = 0; i < ${#targets[@]}; i += 2)); do
  run "${targets[i]}" & first=$!
  second=""
  if ((i + 1 < ${#targets[@]})); then run "${targets[i + 1]}" & second=$!; fi
  wait "$first" || failed=1
  if [ -n "$second" ]; then wait "$second" || failed=1; fi
done
exit "$failed"
