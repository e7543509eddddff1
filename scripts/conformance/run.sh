#!/usr/bin/env bash
# Start a fresh Bulwark, create projects "conf" and "other", run the conformance test binary
# built by build.sh, and stop the server. Output: $OUT/run-<ts>/{output.txt,report.html,junit.xml,bulwark.log}
# Overridable: BIN, PORT, OCI_NAMESPACE, OCI_CROSSMOUNT_NAMESPACE, OCI_AUTOMATIC_CROSSMOUNT, OCI_DEBUG
set -uo pipefail
OUT=${OUT:-/tmp/conformance}
BIN=${BIN:-/root/.cache/bulwark-target/release/bulwark}
PORT=${PORT:-5055}
[ -x "$BIN" ] || { echo "no bulwark binary at $BIN" >&2; exit 1; }
[ -x "$OUT/conformance.test" ] || { echo "run build.sh first" >&2; exit 1; }
RUN=$OUT/run-$(date +%Y%m%d-%H%M%S)${RUN_TAG:+-$RUN_TAG}; mkdir -p "$RUN"
work=$(mktemp -d)
token="$("$BIN" admin init --data-dir "$work/data" --username admin | tail -n1)"
"$BIN" serve --listen 127.0.0.1:$PORT --data-dir "$work/data" 2>"$RUN/bulwark.log" >&2 &
srv=$!
trap 'kill $srv 2>/dev/null; wait $srv 2>/dev/null; echo "bulwark (pid $srv) stopped; data in $work"' EXIT
for i in $(seq 1 100); do curl -s -o /dev/null http://127.0.0.1:$PORT/v2/ && break; sleep 0.1; done
for p in conf other; do
  curl -sf -u "admin:$token" -H 'content-type: application/json' -d "{\"name\":\"$p\"}" http://127.0.0.1:$PORT/api/v1/projects >/dev/null \
    || { echo "could not create project $p" >&2; exit 1; }
done
export OCI_ROOT_URL=http://127.0.0.1:$PORT
export OCI_NAMESPACE=${OCI_NAMESPACE:-conf/repo}
export OCI_CROSSMOUNT_NAMESPACE=${OCI_CROSSMOUNT_NAMESPACE:-conf/other-repo}
export OCI_USERNAME=admin OCI_PASSWORD="$token"
export OCI_TEST_PULL=1 OCI_TEST_PUSH=1 OCI_TEST_CONTENT_DISCOVERY=1 OCI_TEST_CONTENT_MANAGEMENT=1
export OCI_HIDE_SKIPPED_WORKFLOWS=0 OCI_DEBUG=${OCI_DEBUG:-1}
export OCI_AUTOMATIC_CROSSMOUNT=${OCI_AUTOMATIC_CROSSMOUNT:-1}   # Bulwark mounts without `from` inside a project
export OCI_REPORT_DIR="$RUN"
# optional: OCI_AUTH_SCOPE (passed through from the caller), e.g. to also grant pull on the mount source
[ -n "${OCI_AUTH_SCOPE:-}" ] && export OCI_AUTH_SCOPE
cd "$RUN"
"$OUT/conformance.test" -test.v -ginkgo.v -ginkgo.no-color > output.txt 2>&1
rc=$?
echo "conformance.test exit code $rc; output in $RUN/output.txt"
grep -a -E '^(Ran|PASS|FAIL|ok)|Passed.*Failed' output.txt | tail -5
exit $rc
