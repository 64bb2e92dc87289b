#!/usr/bin/env bash
# The README's second command, and what CI runs: formatting, lints, the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test
cargo fmt --all --check
cargo fmt --manifest-path fuzz/Cargo.toml --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# The fuzz targets are a workspace of their own, run with nightly cargo-fuzz; checking them
# here on stable keeps them compiling against the crates they drive.
cargo check --manifest-path fuzz/Cargo.toml --locked --bins
cargo test --workspace --locked
