# Sourced by the load scripts: builds the release binary (unless BULWARK_BIN names one) and starts `bulwark serve` on a temp
# data directory with an administrator and the project `load`. Sets bin, work, token,
# server (pid), base; stops the server and removes the directory on exit.
# BULWARK_BIN=path runs that binary instead (to compare two builds).
if [ -n "${BULWARK_BIN:-}" ]; then
  bin="$BULWARK_BIN"
else
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/bulwark-target}"
  cargo build --release -q -p bulwark
  bin="$CARGO_TARGET_DIR/release/bulwark"
fi
work="$(mktemp -d "${TMPDIR:-/tmp}/bulwark-load.XXXXXX")"
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
token="$("$bin" admin init --data-dir "$work/data" --username admin | tail -n1)"
port=$((20000 + RANDOM % 20000))
"$bin" serve --listen "127.0.0.1:$port" --data-dir "$work/data" 2>"$work/log" &
server=$!
base="http://127.0.0.1:$port"
until curl -s -o /dev/null "$base/v2/"; do sleep 0.1; done
curl -sf -u "admin:$token" -H 'content-type: application/json' -d '{"name":"load"}' "$base/api/v1/projects" >/dev/null
