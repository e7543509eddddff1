#!/usr/bin/env bash
# Manifest GET load from a separate process: a release server on a temp directory, one
# pushed manifest, a registry token (as clients use), then `wrk` at 64 connections.
# Usage: scripts/load.sh [seconds] [connections]   (needs wrk: apt-get install wrk)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-10}"
connections="${2:-64}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/bulwark-target}"
cargo build --release -q -p bulwark
bin="$CARGO_TARGET_DIR/release/bulwark"
work="$(mktemp -d)"
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
token="$("$bin" admin init --data-dir "$work/data" --username admin | tail -n1)"
port=$((20000 + RANDOM % 20000))
"$bin" serve --listen "127.0.0.1:$port" --data-dir "$work/data" 2>"$work/log" &
server=$!
base="http://127.0.0.1:$port"
until curl -s -o /dev/null "$base/v2/"; do sleep 0.1; done
curl -sf -u "admin:$token" -H 'content-type: application/json' -d '{"name":"load"}' "$base/api/v1/projects" >/dev/null
printf '{}' >"$work/config"
config="sha256:$(sha256sum "$work/config" | cut -d' ' -f1)"
curl -sf -u "admin:$token" --data-binary @"$work/config" "$base/v2/load/app/blobs/uploads/?digest=$config" >/dev/null
manifest="{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"$config\",\"size\":2},\"layers\":[]}"
curl -sf -u "admin:$token" -X PUT -H 'content-type: application/vnd.oci.image.manifest.v1+json' -d "$manifest" "$base/v2/load/app/manifests/latest" >/dev/null
jwt="$(curl -sf -u "admin:$token" "$base/auth/token?service=bulwark&scope=repository:load/app:pull" | sed 's/.*"token":"\([^"]*\)".*/\1/')"
echo "manifest GET by tag, bearer token, $connections connections, ${seconds}s:"
wrk -t2 -c"$connections" -d"${seconds}s" -H "Authorization: Bearer $jwt" "$base/v2/load/app/manifests/latest" | grep -E 'Requests/sec|Latency|Non-2xx'
echo "the same with Basic and the access token on every request:"
wrk -t2 -c"$connections" -d"${seconds}s" -H "Authorization: Basic $(printf 'admin:%s' "$token" | base64 -w0)" "$base/v2/load/app/manifests/latest" | grep -E 'Requests/sec|Latency|Non-2xx'
