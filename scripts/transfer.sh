#!/usr/bin/env bash
# Blob push and pull from a separate process (curl) against a release `bulwark serve`, next
# to `openssl dgst -sha256` and `cat` of the same file timed in the same run, and the CPU
# time the server spent on each push and cached pull (steadier than wall time on a shared
# machine).
# Usage: scripts/transfer.sh [MiB] [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
mib="${1:-1024}"
rounds="${2:-3}"
. scripts/release-server.sh
head -c "$((mib * 1024 * 1024))" /dev/urandom >"$work/blob"
size="$(stat -c %s "$work/blob")"
digest="sha256:$(sha256sum "$work/blob" | cut -d' ' -f1)"
jwt="$(curl -sf -u "admin:$token" "$base/auth/token?service=bulwark&scope=repository:load/blob:pull,push,delete" | sed 's/.*"token":"\([^"]*\)".*/\1/')"
rate() { awk -v s="$size" -v t="$1" 'BEGIN { printf "%6.0f MiB/s", s / 1048576 / t }'; }
# User + system CPU the server has used, in ms (clock ticks of 10 ms).
server_cpu_ms() { awk '{ print ($14 + $15) * 10 }' "/proc/$server/stat"; }
seconds() { local start end; start=$(date +%s.%N); "$@" >/dev/null; end=$(date +%s.%N); awk -v a="$start" -v b="$end" 'BEGIN { print b - a }'; }
for round in $(seq "$rounds"); do
  cat "$work/blob" >/dev/null
  openssl_s="$(seconds openssl dgst -sha256 "$work/blob")"
  cat_s="$(seconds cat "$work/blob")"
  # A monolithic push always receives, hashes and stores the whole body, stored before or not.
  cpu_before="$(server_cpu_ms)"
  push_s="$(curl -sf -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $jwt" \
    -H "Content-Length: $size" -H 'Expect:' -T - -X POST \
    "$base/v2/load/blob/blobs/uploads/?digest=$digest" <"$work/blob")"
  push_cpu=$(( $(server_cpu_ms) - cpu_before ))
  pull1_s="$(curl -sf -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $jwt" "$base/v2/load/blob/blobs/$digest")"
  cpu_before="$(server_cpu_ms)"
  pull2_s="$(curl -sf -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $jwt" "$base/v2/load/blob/blobs/$digest")"
  pull_cpu=$(( $(server_cpu_ms) - cpu_before ))
  echo "round $round: openssl $(rate "$openssl_s")  cat $(rate "$cat_s")  push $(rate "$push_s") ($(awk -v a="$openssl_s" -v b="$push_s" 'BEGIN { printf "%.2f", a / b }')x openssl, server CPU ${push_cpu} ms)  pull first $(rate "$pull1_s")  pull again $(rate "$pull2_s") ($(awk -v a="$cat_s" -v b="$pull2_s" 'BEGIN { printf "%.2f", a / b }')x cat, server CPU ${pull_cpu} ms)"
done
