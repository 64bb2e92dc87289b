#!/usr/bin/env bash
# End-to-end replay benchmark: fumidai with 1 and 2 workers next to the libpcap read floor
# (`tcpdump -n -r FILE -w /dev/null`) on the same file, in the same run; best of RUNS each.
#
#   scripts/bench.sh [PCAP]
#
# Without PCAP it uses the team's shared benchmark capture, built with
# ../shared/bench/make-mix.sh into target/bench/mix.pcap when that script exists, and
# otherwise target/bench/repo-mix.pcap built from pcaps/ by scripts/make-bench-pcap.sh.
# Environment: RUNS (default 3), WORKERS (default "1 2"), FUMIDAI_ARGS (extra arguments,
# e.g. "-c sensor.yaml").
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-3}
workers=${WORKERS:-"1 2"}
mkdir -p target/bench
scripts/deps.sh bench
pcap=${1:-}
if [ -z "$pcap" ]; then
  if [ -x ../shared/bench/make-mix.sh ] || [ -f ../shared/bench/make-mix.sh ]; then
    pcap=target/bench/mix.pcap
    [ -f "$pcap" ] || bash ../shared/bench/make-mix.sh "$pcap"
  else
    pcap=target/bench/repo-mix.pcap
    [ -f "$pcap" ] || scripts/make-bench-pcap.sh "$pcap"
  fi
fi
cargo build --release --locked --bin fumidai >&2
read -r packets bytes < <(capinfos -c -d -M -T -r "$pcap" | awk -F'\t' '{print $2, $3}')
# Warm the page cache so every tool reads from memory.
cat "$pcap" > /dev/null

# best_of CMD...: prints "seconds peak_rss_kb" of the fastest of $runs runs.
best_of() {
  local best="" rss="" tf
  tf=$(mktemp)
  for _ in $(seq "$runs"); do
    /usr/bin/time -f "%e %M" -o "$tf" "$@" >/dev/null 2>&1
    local t s
    t=$(tail -1 "$tf")
    s=${t% *}
    if [ -z "$best" ] || awk -v a="$s" -v b="$best" 'BEGIN{exit !(a<b)}'; then best=$s; rss=${t#* }; fi
  done
  rm -f "$tf"
  echo "$best $rss"
}

report() {
  local name=$1 secs=$2 rss=$3
  awk -v n="$name" -v s="$secs" -v r="$rss" -v p="$packets" -v b="$bytes" 'BEGIN {
    if (s <= 0) s = 0.01
    printf "%-26s %8.2f s %10.2f M packets/s %8.2f Gbit/s %8.1f MiB peak RSS\n", n, s, p / s / 1e6, b * 8 / s / 1e9, r / 1024 }'
}

echo "capture: $pcap ($packets packets, $bytes bytes), best of $runs, $(nproc) cores"
read -r s r < <(best_of tcpdump -n -r "$pcap" -w /dev/null)
report "tcpdump -r (read floor)" "$s" "$r"
out=$(mktemp -d); trap 'rm -rf "$out"' EXIT
for w in $workers; do
  # shellcheck disable=SC2086
  read -r s r < <(best_of bash -c "rm -f '$out/eve.json'; exec target/release/fumidai -q -r '$pcap' -l '$out' --workers $w ${FUMIDAI_ARGS:-}")
  report "fumidai --workers $w" "$s" "$r"
done
# The same with no output at all: what writing eve.json costs (serialisation
# stays, it happens in the workers).
printf 'eve:\n  outputs: []\n' > "$out/no-output.yaml"
w=${workers##* }
# shellcheck disable=SC2086
read -r s r < <(best_of target/release/fumidai -q -r "$pcap" -l "$out" --workers "$w" -c "$out/no-output.yaml")
report "  ... no output (sink off)" "$s" "$r"

# What a flow costs when an attacker forges them (issue 12's targets).
echo
FUMIDAI=target/release/fumidai scripts/bench-floods.sh flow-cost
