#!/usr/bin/env bash
# Prints "file packets" for each capture, as capinfos (Wireshark) counts them.
# Used once to record crates/sensor/tests/data/packet-counts.txt:
#   scripts/truth/packet-counts.sh pcaps/*.pcap pcaps/*.pcapng > crates/sensor/tests/data/packet-counts.txt
set -euo pipefail
for f in "$@"; do
  n=$(capinfos -c -M "$f" | awk -F: '/Number of packets/ { gsub(/ /, "", $2); print $2 }')
  echo "$(basename "$f") $n"
done
