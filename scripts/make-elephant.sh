#!/usr/bin/env bash
# The elephant benchmark capture: many small flows (by default the shared benchmark mix,
# ~22k flows and 360 alerts) with one elephant merged in by time: a single HTTP download of
# GB gigabytes between one pair of hosts (scripts/gen-elephant.py). On a live link the
# elephant's packets all hash to one worker; the small flows' alerts must survive it.
#
#   scripts/make-elephant.sh OUT.pcap [GB (default 2)] [SMALL.pcap (default target/bench/mix.pcap)]
#
# Needs python3 and wireshark-common (capinfos, mergecap).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: make-elephant.sh OUT.pcap [GB] [SMALL.pcap]}
gb=${2:-2}
small=${3:-target/bench/mix.pcap}
[ -f "$small" ] || { echo "make-elephant.sh: $small missing (scripts/bench.sh builds the mix)" >&2; exit 1; }
read -r first last < <(capinfos -a -e -S -T -r "$small" | awk -F'\t' '{print $2, $3}')
tmp=$(mktemp --suffix=.pcap); trap 'rm -f "$tmp"' EXIT
python3 scripts/gen-elephant.py "$tmp" --gb "$gb" --start "$first" \
  --seconds "$(echo "$last - $first" | bc -l)"
mergecap -F pcap -w "$out" "$small" "$tmp"
