#!/usr/bin/env bash
# Writes the fleet scenario into DIR (default pcaps/fleet): one attack seen
# whole (fleet-attack.pcap) and as three links' sensors see it
# (fleet-link-a/b/c.pcap), for `fumidai aggregate` and its tests.
#
# The attack is made of real recordings, re-addressed, never hand-edited:
# - pcaps/lab/lab-attack.pcap as recorded (squid, dante, nginx, postfix
#   probed and abused by 10.77.1.10 and 10.77.2.10);
# - the real ntpd 4.2.6 monlist exchange of pcaps/ntpd426__monlist-150.pcap
#   (192-byte request, 150 entries in 25 datagrams: 11,000 bytes) repeated
#   as six reflectors 198.51.100.11-16 answering a forged request from the
#   victim 192.0.2.77, one reflector a second, starting 3 s into the lab.
# fleet-later.pcap is pcaps/lab/lab-benign.pcap (ordinary traffic to the same
# servers) 15 minutes later: the fleet's clock moving on, which closes the
# attack's windows (window 300 s, lateness 330 s by default).
# Each link carries the traffic of some of the services and reflectors:
#   a: squid (8080), nginx (80), reflectors .11 .12
#   b: dante (1080), reflectors .13 .14
#   c: postfix (25), the lab's NTP, reflectors .15 .16
# Needs tshark, editcap, mergecap, capinfos and tcprewrite.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-pcaps/fleet}
lab=pcaps/lab/lab-attack.pcap
ntp=pcaps/ntpd426__monlist-150.pcap
victim=192.0.2.77
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

epoch() { capinfos -T -r -S -a "$1" | awk '{print $2}'; }
lab_start=$(epoch "$lab")
ntp_start=$(epoch "$ntp")

tshark -r "$ntp" -Y 'udp.dstport == 123' -w "$tmp/req.pcap" 2>/dev/null
tshark -r "$ntp" -Y 'udp.srcport == 123' -w "$tmp/resp.pcap" 2>/dev/null
parts=("$lab")
for i in 1 2 3 4 5 6; do
  refl=198.51.100.1$i
  tcprewrite --infile="$tmp/req.pcap" --outfile="$tmp/req$i.pcap" --fixcsum \
    --srcipmap=127.0.0.1/32:$victim/32 --dstipmap=127.0.0.1/32:$refl/32
  tcprewrite --infile="$tmp/resp.pcap" --outfile="$tmp/resp$i.pcap" --fixcsum \
    --srcipmap=127.0.0.1/32:$refl/32 --dstipmap=127.0.0.1/32:$victim/32
  mergecap -w "$tmp/ex$i.pcap" "$tmp/req$i.pcap" "$tmp/resp$i.pcap"
  shift=$(python3 -c "print(f'{$lab_start + 2 + $i - $ntp_start:.6f}')")
  editcap -F pcap -t "$shift" "$tmp/ex$i.pcap" "$tmp/ex$i-t.pcap"
  parts+=("$tmp/ex$i-t.pcap")
done
mergecap -F pcap -w "$out/fleet-attack.pcap" "${parts[@]}"

refl() { printf 'ip.addr == 198.51.100.1%s || ' "$@" | sed 's/ || $//'; }
tshark -r "$out/fleet-attack.pcap" -F pcap -w "$out/fleet-link-a.pcap" \
  -Y "tcp.port == 8080 || tcp.port == 80 || $(refl 1 2)" 2>/dev/null
tshark -r "$out/fleet-attack.pcap" -F pcap -w "$out/fleet-link-b.pcap" \
  -Y "tcp.port == 1080 || $(refl 3 4)" 2>/dev/null
tshark -r "$out/fleet-attack.pcap" -F pcap -w "$out/fleet-link-c.pcap" \
  -Y "!(tcp.port == 8080 || tcp.port == 80 || tcp.port == 1080 || $(refl 1 2 3 4))" 2>/dev/null

benign=pcaps/lab/lab-benign.pcap
later=$(python3 -c "print(f'{$lab_start + 900 - $(epoch "$benign"):.6f}')")
editcap -F pcap -t "$later" "$benign" "$out/fleet-later.pcap"

# Every packet is on exactly one link.
total=$(capinfos -c -M -T "$out/fleet-attack.pcap" | awk 'NR==2{print $2}')
sum=0
for l in a b c; do
  n=$(capinfos -c -M -T "$out/fleet-link-$l.pcap" | awk 'NR==2{print $2}')
  sum=$((sum + n))
done
[ "$sum" -eq "$total" ] || { echo "gen-fleet: slices hold $sum packets, the attack $total" >&2; exit 1; }
ls -l "$out"/fleet-*.pcap
