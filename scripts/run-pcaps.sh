#!/usr/bin/env bash
# The README's first command: builds fumidai and replays every capture bundled in pcaps/ (and its
# subdirectories: the lab recordings, the evasion matrix, the generated scenarios),
# writing out/eve.json (or $OUT/eve.json). Extra arguments go to fumidai, e.g. --workers 1.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build
cargo build --release --locked --bin fumidai
out=${OUT:-out}
mkdir -p "$out"
rm -f "$out/eve.json"
target/release/fumidai -r pcaps --recursive -l "$out" "$@"
echo "EVE log: $(cd "$out" && pwd)/eve.json"
