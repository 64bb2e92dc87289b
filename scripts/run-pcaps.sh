#!/usr/bin/env bash
# The README's first command: builds fumidai and replays every capture bundled in pcaps/ (and its
# subdirectories: the lab recordings, the evasion matrix, the generated scenarios),
# writing out/eve.json (or $OUT/eve.json), then `fumidai report` turns it into out/report.html.
# Extra arguments go to fumidai, e.g. --workers 1.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build
cargo build --release --locked --bin fumidai
out=${OUT:-out}
mkdir -p "$out"
rm -f "$out/eve.json"
bin="${CARGO_TARGET_DIR:-target}/release/fumidai"
"$bin" -r pcaps --recursive -l "$out" "$@"
"$bin" report -q "$out/eve.json" -o "$out/report.html"
echo "EVE log: $(cd "$out" && pwd)/eve.json"
echo "Report:  $(cd "$out" && pwd)/report.html"
