#!/usr/bin/env bash
# Prints tshark's view of a capture's TCP and UDP conversations, one line each:
#   proto addrA portA addrB portB frames(A->B) bytes(A->B) frames(B->A) bytes(B->A)
# where A is the endpoint that sent the conversation's first frame. Bytes are frame
# lengths on the wire, as in `tshark -z conv,tcp`, whose table rounds large byte counts;
# hence this exact per-frame sum. An ICMPv4 destination unreachable that quotes a TCP/UDP
# header is counted in the conversation it quotes, as Suricata counts it in that flow
# (flow-hash.c): A->B when A sent it, else B->A. Other ICMP errors are left out.
# Used once to record the expectations that crates/sensor/tests/ compare against:
#   scripts/truth/conversations.sh pcaps/A.pcap pcaps/B.pcap > crates/sensor/tests/data/conversations.txt
set -euo pipefail
for f in "$@"; do
  echo "# $(basename "$f")"
  {
    tshark -r "$f" -n -Y '(tcp or udp) and not icmp and not icmpv6' -T fields -E separator='|' \
        -e frame.len -e ip.src -e ipv6.src -e ip.dst -e ipv6.dst \
        -e tcp.srcport -e tcp.dstport -e udp.srcport -e udp.dstport 2>/dev/null | sed 's/^/P|/'
    # The outer and quoted addresses, comma-separated, then the quoted ports.
    tshark -r "$f" -n -Y 'icmp.type == 3 and (tcp or udp)' -T fields -E separator='|' -E occurrence=a \
        -e frame.len -e ip.src -e ip.dst -e tcp.srcport -e tcp.dstport -e udp.srcport -e udp.dstport \
        2>/dev/null | sed 's/^/E|/'
  } |
  awk -F'|' '
    $1 == "P" {
      len = $2; src = ($3 != "") ? $3 : $4; dst = ($5 != "") ? $5 : $6
      if ($7 != "") { proto = "tcp"; sp = $7; dp = $8 } else { proto = "udp"; sp = $9; dp = $10 }
      fwd = proto " " src " " sp " " dst " " dp; rev = proto " " dst " " dp " " src " " sp
      if (fwd in seen)      { fa[fwd]++; ba[fwd] += len }
      else if (rev in seen) { fb[rev]++; bb[rev] += len }
      else { seen[fwd] = 1; order[n++] = fwd; fa[fwd] = 1; ba[fwd] = len; fb[fwd] = 0; bb[fwd] = 0; a[fwd] = src }
    }
    $1 == "E" {
      len = $2; split($3, s, ","); split($4, d, ",")
      if ($5 != "") { proto = "tcp"; sp = $5; dp = $6 } else { proto = "udp"; sp = $7; dp = $8 }
      fwd = proto " " s[2] " " sp " " d[2] " " dp; rev = proto " " d[2] " " dp " " s[2] " " sp
      k = (fwd in seen) ? fwd : ((rev in seen) ? rev : "")
      if (k == "") next
      if (s[1] == a[k]) { fa[k]++; ba[k] += len } else { fb[k]++; bb[k] += len }
    }
    END { for (i = 0; i < n; i++) { k = order[i]; print k, fa[k], ba[k], fb[k], bb[k] } }'
done
