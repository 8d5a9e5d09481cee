#!/usr/bin/env bash
# The project's test command (README, .ci/run): installs what the tests need,
# then checks format and lints and runs every test against a real Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cargo fmt --all -- --check
# The whole workspace: the product crate and the tools beside it
# (tools/). Testing the tools builds the fixture farm before any test runs,
# and the product's integration tests start it from the same directory.
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --locked --workspace --all-targets
# The container image's steps and the Kubernetes Job, checked on this host
# (no Docker engine here); the debug binary the tests built stands in for
# the image's release build.
BEIAN_AUDIT_BIN=target/debug/beian-audit scripts/check-image-steps.sh
scripts/check-k8s.sh
