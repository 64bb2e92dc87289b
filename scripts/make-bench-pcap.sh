#!/usr/bin/env bash
# Writes a large benchmark capture from the real captures in pcaps/, so the repository
# stands alone: the Ethernet captures are laid end to end in time (editcap -t), then
# COPIES copies with addresses randomised per copy (tcprewrite --seed=1..COPIES, checksums
# fixed) are merged by time (mergecap). Deterministic for a given COPIES.
# Needs tcpreplay (tcprewrite) and wireshark-common (editcap, mergecap, capinfos).
# Usage: scripts/make-bench-pcap.sh OUT.pcap [COPIES]   (default 200 copies, ~1.2 M packets)
set -euo pipefail
out=${1:?usage: make-bench-pcap.sh OUT.pcap [COPIES]}
copies=${2:-200}
cd "$(dirname "$0")/.."
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
start=1700000000
i=0
for f in pcaps/*.pcap; do
  capinfos -E "$f" 2>/dev/null | grep -q 'Ethernet$' || continue
  read -r first last < <(capinfos -a -e -S -T -r "$f" | awk -F'\t' '{split($2, a, "."); split($3, b, "."); print a[1], b[1]}')
  [ -n "$first" ] && [ -n "$last" ] || continue
  # Each trace starts 1 s after the previous one's first 10 minutes; mergecap below
  # interleaves the rest of a longer trace by time.
  editcap -F pcap -t $((start - first)) "$f" "$work/base-$(printf %03d $i).pcap"
  dur=$((last - first)); [ "$dur" -gt 600 ] && dur=600
  start=$((start + dur + 1)); i=$((i + 1))
done
mergecap -F pcap -w "$work/base.pcap" "$work"/base-*.pcap
for k in $(seq 1 "$copies"); do
  tcprewrite --seed="$k" --fixcsum -i "$work/base.pcap" -o "$work/c$k.pcap" 2>/dev/null
done
mergecap -F pcap -w "$out" "$work"/c*.pcap
capinfos -c -d "$out" | tail -2
