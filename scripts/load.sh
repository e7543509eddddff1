#!/usr/bin/env bash
# Manifest GET load from a separate process: a release server on a temp directory, one
# pushed manifest, a registry token (as clients use), then `wrk` at 64 connections.
# Usage: scripts/load.sh [seconds] [connections]   (needs wrk: apt-get install wrk)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-10}"
connections="${2:-64}"
. scripts/release-server.sh
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
