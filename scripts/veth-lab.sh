#!/usr/bin/env bash
# Two network namespaces joined by a veth pair, to replay captures into a live sensor:
# NAME-tx sends on device NAME-t, NAME-rx receives on NAME-r (where the sensor listens).
# Nothing else is connected: frames go from one namespace to the other and nowhere else.
#
#   scripts/veth-lab.sh up NAME          create them (MTU 65535: some frames exceed 1514)
#   scripts/veth-lab.sh down NAME        remove them
#   scripts/veth-lab.sh rewrite IN OUT   rewrite every address of IN into the lab's subnets
#                                        (10.216.0.0/16, fd16::/64; tcprewrite --pnat),
#                                        checksums fixed, so nothing replayed names another host
#
# Needs root, iproute2 and tcpreplay (tcprewrite). NAME: at most 12 characters.
set -euo pipefail
cmd=${1:?usage: veth-lab.sh up|down NAME | rewrite IN OUT}
case "$cmd" in
  up)
    n=${2:?name}
    [ ${#n} -le 12 ] || { echo "veth-lab.sh: name '$n' longer than 12 characters" >&2; exit 2; }
    ip netns add "$n-tx"
    ip netns add "$n-rx"
    ip link add "$n-t" netns "$n-tx" type veth peer name "$n-r" netns "$n-rx"
    for side in tx:t:1 rx:r:2; do
      IFS=: read -r ns dev host <<<"$side"
      ip -n "$n-$ns" link set lo up
      ip -n "$n-$ns" link set "$n-$dev" mtu 65535 up
      ip -n "$n-$ns" addr add "10.216.0.$host/16" dev "$n-$dev"
      ip -n "$n-$ns" -6 addr add "fd16::$host/64" dev "$n-$dev" nodad
      # The receiving side only watches: it must not answer what it sees.
      ip netns exec "$n-$ns" sysctl -qw net.ipv4.ip_forward=0 net.ipv6.conf.all.forwarding=0
    done
    ;;
  down)
    n=${2:?name}
    ip netns del "$n-tx" 2>/dev/null || true
    ip netns del "$n-rx" 2>/dev/null || true
    ;;
  rewrite)
    in=${2:?in}; out=${3:?out}
    tcprewrite '--pnat=0.0.0.0/0:10.216.0.0/16,[::/0]:[fd16::/64]' --fixcsum -i "$in" -o "$out"
    ;;
  *) echo "usage: veth-lab.sh up|down NAME | rewrite IN OUT" >&2; exit 2 ;;
esac
