#!/usr/bin/env bash
# A chunked push (POST, PATCH per chunk with Content-Range, PUT) from curl against a release
# `bulwark serve`: the time of all PATCHes, and the time and server CPU of the completing
# PUT, next to `openssl dgst -sha256` of the same file timed in the same run.
# Usage: scripts/chunked.sh [MiB] [chunk MiB] [rounds]    (BULWARK_BIN compares builds)
set -euo pipefail
cd "$(dirname "$0")/.."
mib="${1:-1024}"
chunk_mib="${2:-64}"
rounds="${3:-3}"
. scripts/release-server.sh
head -c "$((mib * 1024 * 1024))" /dev/urandom >"$work/blob"
size="$(stat -c %s "$work/blob")"
chunk=$((chunk_mib * 1024 * 1024))
digest="sha256:$(sha256sum "$work/blob" | cut -d' ' -f1)"
jwt="$(curl -sf -u "admin:$token" "$base/auth/token?service=bulwark&scope=repository:load/blob:pull,push,delete" | sed 's/.*"token":"\([^"]*\)".*/\1/')"
auth=(-H "Authorization: Bearer $jwt")
server_cpu_ms() { awk '{ print ($14 + $15) * 10 }' "/proc/$server/stat"; }
now() { date +%s.%N; }
for round in $(seq "$rounds"); do
  curl -sf -o /dev/null "${auth[@]}" -X DELETE "$base/v2/load/blob/blobs/$digest" || true
  start=$(now)
  openssl dgst -sha256 "$work/blob" >/dev/null
  openssl_s=$(awk -v a="$start" -v b="$(now)" 'BEGIN { print b - a }')
  location="$(curl -sf -D - -o /dev/null "${auth[@]}" -X POST "$base/v2/load/blob/blobs/uploads/" | tr -d '\r' | awk -F': ' 'tolower($1) == "location" { print $2 }')"
  start=$(now)
  offset=0
  while [ "$offset" -lt "$size" ]; do
    end=$((offset + chunk < size ? offset + chunk : size))
    location="$(dd if="$work/blob" iflag=skip_bytes,count_bytes skip="$offset" count="$((end - offset))" bs=1M status=none |
      curl -sf -D - -o /dev/null "${auth[@]}" -H "Content-Range: $offset-$((end - 1))" \
        -H "Content-Length: $((end - offset))" -H 'Expect:' -T - -X PATCH "$base$location" |
      tr -d '\r' | awk -F': ' 'tolower($1) == "location" { print $2 }')"
    offset=$end
  done
  patches_s=$(awk -v a="$start" -v b="$(now)" 'BEGIN { print b - a }')
  cpu_before="$(server_cpu_ms)"
  sep='?'; case "$location" in *'?'*) sep='&';; esac
  put_s="$(curl -sf -o /dev/null -w '%{time_total}' "${auth[@]}" -X PUT "$base$location${sep}digest=$digest")"
  put_cpu=$(( $(server_cpu_ms) - cpu_before ))
  awk -v s="$size" -v o="$openssl_s" -v p="$patches_s" -v u="$put_s" -v c="$put_cpu" -v n="$(( (size + chunk - 1) / chunk ))" 'BEGIN {
    printf "round: openssl %.0f MiB/s  %d PATCHes %.0f MiB/s (%.2fx openssl)  completing PUT %.3f s, server CPU %d ms  whole push %.2fx openssl\n",
      s / 1048576 / o, n, s / 1048576 / p, o / p, u, c, o / (p + u) }'
done
