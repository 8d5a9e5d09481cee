#!/usr/bin/env bash
# The project's test command (README, .ci/run): installs what the tests need,
# then checks format and lints and runs every test against a real Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --locked --all-targets
# The container image's steps and the Kubernetes Job, checked on this host
# (no Docker engine here); the debug binary the tests built stands in for
# the image's release build.
BEIAN_AUDIT_BIN=target/debug/beian-audit scripts/check-image-steps.sh
scripts/check-k8s.sh
