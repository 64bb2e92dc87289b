#!/usr/bin/env bash
# Prints tshark's reassembly of TCP streams, one line per stream:
#   file stream client_ip client_port server_ip server_port bytes_c2s sha256_c2s bytes_s2c sha256_s2c
# from `tshark -q -z follow,tcp,raw,N` (node 0, the first sender, is the client).
# Used once to record crates/engine/tests/data/streams.txt:
#   scripts/truth/streams.sh pcaps/A.pcap:0,1 pcaps/B.pcap:0 > crates/engine/tests/data/streams.txt
set -euo pipefail
for arg in "$@"; do
  f=${arg%%:*}; idx=${arg#*:}
  for n in ${idx//,/ }; do
    out=$(tshark -r "$f" -q -z "follow,tcp,raw,$n" 2>/dev/null)
    node0=$(echo "$out" | awk '/^Node 0: /{print $3}')
    node1=$(echo "$out" | awk '/^Node 1: /{print $3}')
    body=$(echo "$out" | sed -n '/^Node 1: /,/^=====/p' | sed '1d;$d')
    c2s=$(echo "$body" | grep -v $'^\t' | tr -d ' \n' || true)
    s2c=$(echo "$body" | grep $'^\t' | tr -d ' \t\n' || true)
    h() { echo -n "$1" | xxd -r -p | sha256sum | cut -d' ' -f1; }
    n_c2s=$(( ${#c2s} / 2 )); n_s2c=$(( ${#s2c} / 2 ))
    a=${node0%:*}; b=${node1%:*}; a=${a#[}; a=${a%]}; b=${b#[}; b=${b%]}
    echo "$(basename "$f") $n $a ${node0##*:} $b ${node1##*:} $n_c2s $(h "$c2s") $n_s2c $(h "$s2c")"
  done
done
