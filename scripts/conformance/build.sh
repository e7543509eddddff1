#!/usr/bin/env bash
# Offline build of the OCI distribution-spec conformance suite (tag v1.1.1) with Debian's Go 1.19.
# Sources come from git mirrors in /work/.mirror (fetched with the `fetch` tool); a vendor/ tree
# plus vendor/modules.txt is assembled by hand so that `go test -c -mod=vendor` needs no network.
set -euo pipefail
M=/work/.mirror
OUT=${OUT:-/tmp/conformance}
SPEC_TAG=${SPEC_TAG:-v1.1.1}
SRC=$OUT/distribution-spec
rm -rf "$SRC"; mkdir -p "$SRC"
git --git-dir=$M/opencontainers+distribution-spec/repo archive "$SPEC_TAG" conformance | tar -x -C "$SRC"
C=$SRC/conformance
V=$C/vendor
mkdir -p "$V"
: > "$V/modules.txt"

# module-path  version  mirror  git-rev
MODS=(
"github.com/asaskevich/govalidator v0.0.0-20230301143203-a9d515a09cc2 asaskevich+govalidator a9d515a09cc2"
"github.com/bloodorangeio/reggie v0.6.1 bloodorangeio+reggie v0.6.1"
"github.com/go-logr/logr v1.2.4 go-logr+logr v1.2.4"
"github.com/go-resty/resty/v2 v2.7.0 go-resty+resty v2.7.0"
"github.com/go-task/slim-sprig v0.0.0-20230315185526-52ccab3ef572 go-task+slim-sprig 52ccab3ef572"
"github.com/google/go-cmp v0.6.0 google+go-cmp v0.6.0"
"github.com/google/pprof v0.0.0-20230602150820-91b7bce49751 google+pprof 91b7bce49751"
"github.com/google/uuid v1.3.0 google+uuid v1.3.0"
"github.com/mitchellh/mapstructure v1.5.0 mitchellh+mapstructure v1.5.0"
"github.com/onsi/ginkgo/v2 v2.11.0 onsi+ginkgo v2.11.0"
"github.com/onsi/gomega v1.27.8 onsi+gomega v1.27.8"
"github.com/opencontainers/go-digest v1.0.0 opencontainers+go-digest v1.0.0"
"golang.org/x/net v0.33.0 golang+net v0.33.0"
"golang.org/x/sys v0.28.0 golang+sys v0.28.0"
"golang.org/x/text v0.21.0 golang+text v0.21.0"
"golang.org/x/tools v0.21.1-0.20240508182429-e35e4ccd0d2d golang+tools e35e4ccd0d2d"
"gopkg.in/yaml.v3 v3.0.1 go-yaml+yaml v3.0.1"
)
# git archive, but skipping blobs absent from the mirror (e.g. golang/text collate/tables.go, date/tables.go;
# those packages are not used by the suite)
extract() { # gitdir rev dest
  local g=$1 rev=$2 dest=$3 missing=0
  while read -r _m _t h p; do git --git-dir="$g" cat-file -e "$h" 2>/dev/null || { echo "skip missing blob $p" >&2; missing=1; }; done \
    < <(git --git-dir="$g" ls-tree -r "$rev")
  if [ $missing = 0 ]; then git --git-dir="$g" archive "$rev" | tar -x -C "$dest"; return; fi
  # slow path: file by file, skipping what is absent
  git --git-dir="$g" ls-tree -r "$rev" | while read -r m t h p; do
    [ "$t" = blob ] || continue
    git --git-dir="$g" cat-file -e "$h" 2>/dev/null || continue
    mkdir -p "$dest/$(dirname "$p")"
    if [ "$m" = 120000 ]; then ln -sf "$(git --git-dir="$g" cat-file blob "$h")" "$dest/$p"; else git --git-dir="$g" cat-file blob "$h" > "$dest/$p"; fi
  done
}
for line in "${MODS[@]}"; do
  read -r mod ver mirror rev <<<"$line"
  # sanity check: go.mod of the spec must ask for exactly this version
  grep -qE "^\s*(require )?$mod $ver( |$)" "$C/go.mod" || { echo "go.mod does not require $mod $ver" >&2; exit 1; }
  d=$V/$mod; mkdir -p "$d"
  extract "$M/$mirror/repo" "$rev" "$d"
  # drop nested modules (their own go.mod) and testdata
  ( cd "$d"; find . -mindepth 2 -name go.mod -printf '%h\n' | sort -u | while read -r sub; do rm -rf "$sub"; done
    find . -type d -name testdata -prune -exec rm -rf {} + )
  gov=$(awk '$1=="go"{print $2; exit}' "$d/go.mod" 2>/dev/null || true)
  echo "# $mod $ver" >> "$V/modules.txt"
  if [ -n "$gov" ]; then echo "## explicit; go $gov" >> "$V/modules.txt"; else echo "## explicit" >> "$V/modules.txt"; fi
  ( cd "$d"; find . -name '*.go' ! -name '*_test.go' -printf '%h\n' | sort -u | while read -r p; do
      case "$p" in */_*|*/.*) continue;; esac
      p=${p#.}; echo "$mod$p"; done ) >> "$V/modules.txt"
done
cd "$C"
export GOFLAGS=-mod=vendor GOPROXY=off GOSUMDB=off GOTOOLCHAIN=local CGO_ENABLED=0
go version
go test -c -o "$OUT/conformance.test" .
echo "built $OUT/conformance.test"
