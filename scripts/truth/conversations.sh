#!/usr/bin/env bash
# Prints tshark's view of a capture's TCP and UDP conversations, one line each:
#   proto addrA portA addrB portB frames(A->B) bytes(A->B) frames(B->A) bytes(B->A)
# where A is the endpoint that sent the conversation's first frame. Bytes are frame
# lengths on the wire, as in `tshark -z conv,tcp`, whose table rounds large byte counts;
# hence this exact per-frame sum. ICMP errors that quote a TCP/UDP header are not part of
# the conversation and are left out.
# Used once to record the expectations that crates/sensor/tests/ compare against:
#   scripts/truth/conversations.sh pcaps/A.pcap pcaps/B.pcap > crates/sensor/tests/data/conversations.txt
set -euo pipefail
for f in "$@"; do
  echo "# $(basename "$f")"
  tshark -r "$f" -n -Y '(tcp or udp) and not icmp and not icmpv6' -T fields -E separator='|' \
      -e frame.len -e ip.src -e ipv6.src -e ip.dst -e ipv6.dst \
      -e tcp.srcport -e tcp.dstport -e udp.srcport -e udp.dstport 2>/dev/null |
  awk -F'|' '
    {
      len = $1; src = ($2 != "") ? $2 : $3; dst = ($4 != "") ? $4 : $5
      if ($6 != "") { proto = "tcp"; sp = $6; dp = $7 } else { proto = "udp"; sp = $8; dp = $9 }
      fwd = proto " " src " " sp " " dst " " dp; rev = proto " " dst " " dp " " src " " sp
      if (fwd in seen)      { fa[fwd]++; ba[fwd] += len }
      else if (rev in seen) { fb[rev]++; bb[rev] += len }
      else { seen[fwd] = 1; order[n++] = fwd; fa[fwd] = 1; ba[fwd] = len; fb[fwd] = 0; bb[fwd] = 0 }
    }
    END { for (i = 0; i < n; i++) { k = order[i]; print k, fa[k], ba[k], fb[k], bb[k] } }'
done
