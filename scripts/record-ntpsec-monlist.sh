#!/usr/bin/env bash
# Records a real modern ntpd refusing monlist: Debian's NTPsec, queried by nmap's ntp-monlist
# script (mode 7 MON_GETLIST_1, as ntpdc -c monlist sends it) and by ntpq's mrulist and
# monstats (mode 6, the monitor list's successor). NTPsec, like ntpd 4.2.7p26 and later by
# default, does not hand out its monitor list over mode 7: the request goes unanswered.
#
#   scripts/record-ntpsec-monlist.sh OUTFILE.pcap     (root; installs nmap if missing)
#
# Everything happens on the loopback interface of a network namespace this script creates
# (fl-ntprec) and removes; the capture is tcpdump's, unmodified (loopback leaves the UDP
# checksums of locally sent datagrams unfilled, as a capture on the sending host does).
# Versions of what took part are written next to the capture (OUTFILE.versions.txt), the
# clients' transcripts to OUTFILE.transcript.txt.
set -Eeuo pipefail
out=${1:?usage: record-ntpsec-monlist.sh OUTFILE.pcap}
[ "$(id -u)" -eq 0 ] || { echo "record-ntpsec-monlist: must run as root" >&2; exit 1; }
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac
ns=fl-ntprec
state=$(mktemp -d /tmp/fumidai-ntprec.XXXXXX)
ntpd_pid= tcpdump_pid=

cleanup() {
  [ -n "$tcpdump_pid" ] && kill -INT "$tcpdump_pid" 2>/dev/null && wait "$tcpdump_pid" 2>/dev/null || true
  if [ -s "$state/ntpd.pid" ]; then
    ntpd_pid=$(tr -dc '0-9' <"$state/ntpd.pid")
    [ -n "$ntpd_pid" ] && kill -TERM "$ntpd_pid" 2>/dev/null || true
  fi
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$state"
}
trap cleanup EXIT

need=()
command -v ntpd >/dev/null || need+=(ntpsec)
command -v nmap >/dev/null || need+=(nmap)
command -v tcpdump >/dev/null || need+=(tcpdump)
if [ ${#need[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

ip netns del "$ns" 2>/dev/null || true
ip netns add "$ns"
ip netns exec "$ns" ip link set lo up

# NTPsec as shipped, except that mode 6 is answered to anyone (NTPsec's default entry
# carries noquery) so that ntpq's monitor-list queries get their answer: the question is
# what a server that answers queries does with mode 7. No upstream; orphan mode, and the
# host's clock is never touched.
cat >"$state/ntp.conf" <<EOF
tos orphan 5 orphanwait 0
disable ntp
disable kernel
restrict default nomodify
unrestrict default noquery
statsdir $state/
EOF

ip netns exec "$ns" tcpdump -n -i lo -U -w "$out" udp port 123 >"$state/tcpdump.log" 2>&1 &
tcpdump_pid=$!
for _ in $(seq 1 50); do grep -q 'listening on' "$state/tcpdump.log" && break; sleep 0.1; done

ip netns exec "$ns" ntpd -c "$state/ntp.conf" -p "$state/ntpd.pid" -l "$state/ntpd.log"
for _ in $(seq 1 40); do
  ip netns exec "$ns" ss -Hlnu 'sport = :123' | grep -q . && break
  sleep 0.25
done

t="${out%.pcap}.transcript.txt"
{
  echo "## nmap -sU -pU:123 -Pn -n --script=ntp-monlist 127.0.0.1"
  ip netns exec "$ns" timeout 60 nmap -sU -pU:123 -Pn -n --script=ntp-monlist 127.0.0.1 2>&1 | grep -v '^Starting\|^Nmap done' || true
  echo "## ntpq -n -c mrulist 127.0.0.1"
  ip netns exec "$ns" timeout 20 ntpq -n -c mrulist 127.0.0.1 2>&1 || true
  echo "## ntpq -n -c monstats 127.0.0.1"
  ip netns exec "$ns" timeout 20 ntpq -n -c monstats 127.0.0.1 2>&1 || true
} >"$t"
sleep 1
kill -INT "$tcpdump_pid"
wait "$tcpdump_pid" 2>/dev/null || true
tcpdump_pid=

{
  for p in ntpsec nmap tcpdump; do dpkg-query -W -f='${Package} ${Version}\n' "$p" 2>/dev/null || true; done
  echo "kernel $(uname -r)"
  echo "recorded $(date -u +%Y-%m-%dT%H:%M:%SZ) by scripts/record-ntpsec-monlist.sh"
} >"${out%.pcap}.versions.txt"
echo "record-ntpsec-monlist: $(tcpdump -n -r "$out" 2>/dev/null | wc -l) packets in $out"
