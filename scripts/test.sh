#!/usr/bin/env bash
# The one test command (README, .ci/run): installs what the tests need on a fresh machine,
# then checks formatting and lints and runs every test. Fails when anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tether-target}"
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

echo "== set-up"
if [ -f scripts/requirements-test.txt ]; then
  python3 -m pip install --quiet --disable-pip-version-check -r scripts/requirements-test.txt
fi
# jsforce, pinned by tests/node/package-lock.json, for the proxy's Node.js client test.
npm ci --prefix tests/node --no-audit --no-fund --ignore-scripts --loglevel=error
if [ -x scripts/install-browser.sh ]; then
  scripts/install-browser.sh
fi

echo "== fmt"
cargo fmt --all -- --check

echo "== clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== tests"
# Benches (harness = false) are programs, not tests: `cargo bench` runs them.
cargo test --workspace --lib --bins --tests --locked
