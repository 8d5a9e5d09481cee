#!/usr/bin/env bash
# The project's test command (README, .ci/run): installs what the tests need,
# then checks format and lints and runs every test against a real Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --locked --all-targets
