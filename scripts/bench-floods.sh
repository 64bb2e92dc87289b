#!/usr/bin/env bash
# What forged-source floods cost the sensor: peak RSS, time and alerts for each flood of
# scripts/gen-floods.py, the cost of one flow, and whether the lab's attacks are still
# detected inside a 2 M-source flood. Captures are generated into target/bench/floods once.
#
#   scripts/bench-floods.sh [SIZE]     SIZE: full (default: 1 M and 10 M sources), small,
#                                      or flow-cost (only the cost of one flow; bench.sh
#                                      prints it)
#
# Environment: FUMIDAI (binary, default target/release/fumidai), FUMIDAI_ARGS (extra args).
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-full}
dir=target/bench/floods
mkdir -p "$dir"
scripts/deps.sh bench
bin=${FUMIDAI:-target/release/fumidai}
[ "$bin" != target/release/fumidai ] || cargo build --release --locked --bin fumidai >&2
case "$size" in
  full) m=1000000; big=10000000; embed=2000000 ;;
  small) m=100000; big=1000000; embed=200000 ;;
  flow-cost) m=1000000 ;;
  *) echo "usage: scripts/bench-floods.sh [full|small|flow-cost]" >&2; exit 2 ;;
esac
gen() { # kind count [embed]
  local f="$dir/$1-$2.pcap"
  if [ ! -f "$f" ]; then
    if [ -n "${3:-}" ]; then
      python3 scripts/gen-floods.py "$1" "$2" "$f" --embed "$3"
    else
      python3 scripts/gen-floods.py "$1" "$2" "$f"
    fi
  fi
  echo "$f"
}
out=$(mktemp -d); trap 'rm -rf "$out"' EXIT
# run FILE [CONFIG] -> "seconds rss_kb alerts summaries"
run() {
  rm -f "$out/eve.json"
  local cfg=()
  [ -n "${2:-}" ] && cfg=(-c "$2")
  # shellcheck disable=SC2086
  /usr/bin/time -f "%e %M" -o "$out/time" "$bin" -q -r "$1" -l "$out" "${cfg[@]}" ${FUMIDAI_ARGS:-} >/dev/null 2>"$out/err" \
    || { echo "fumidai failed on $1:" >&2; cat "$out/err" >&2; exit 1; }
  local a s
  a=$(grep -c '"event_type":"alert"' "$out/eve.json" || true)
  s=$(grep -c '"signature_id":9700090' "$out/eve.json" || true)
  echo "$(cat "$out/time") $a $s"
}
flow_cost() {
  echo "cost of one flow ((peak RSS at $m flows - at 10000) / $((m - 10000)); targets: TCP <= 400, UDP <= 250)"
  for k in syn-flood udp-flood; do
    read -r _ small _ _ < <(run "$(gen $k 10000)")
    read -r _ large _ _ < <(run "$(gen $k $m)")
    cost=$(echo "($large - $small) * 1024 / ($m - 10000)" | bc -l)
    case $k in syn-flood) limit=400 ;; *) limit=250 ;; esac
    printf '  %-10s %6.0f bytes/flow%s\n' "$k" "$cost" \
      "$(awk -v c="$cost" -v l="$limit" 'BEGIN { if (c > l) print "  OVER THE TARGET" }')"
  done
}
if [ "$size" = flow-cost ]; then
  flow_cost
  exit 0
fi
printf '%-34s %10s %8s %12s %10s\n' flood sources seconds "peak RSS" alerts
row() { # label sources file
  read -r secs rss alerts summ < <(run "$3")
  printf '%-34s %10s %8.2f %9.1f MiB %10s\n' "$1" "$2" "$secs" "$(echo "$rss/1024" | bc -l)" "$alerts (${summ} summaries)"
}
row "SYN to :3128 (proxy-sweep map)" "$m" "$(gen syn-proxy $m)"
row "SYN to :3128 (proxy-sweep map)" "$big" "$(gen syn-proxy "$big")"
row "SYN to :4444 (control)" "$m" "$(gen syn-other $m)"
row "UDP answers from 53/161/123" "$m" "$(gen udp-resp $m)"
row "UDP answers from 53/161/123" "$big" "$(gen udp-resp "$big")"
row "monlist requests" "$m" "$(gen monlist-req $m)"
row "monlist requests" "$big" "$(gen monlist-req "$big")"
row "SYN flood (half-open flows)" "$m" "$(gen syn-flood $m)"
row "UDP flood (one-packet flows)" "$m" "$(gen udp-flood $m)"

echo
flow_cost

# The lab's attacks inside a flood of every kind of forged junk.
echo
f=$(gen mix "$embed" pcaps/lab/lab-attack.pcap)
python3 - "$out/lab.yaml" <<'PY'
import sys, re
src = open("pcaps/lab/lab-attack.expect.yaml").read()
cfg = src[src.index("config:"):src.index("\n#", src.index("config:"))]
body = "\n".join(l[2:] for l in cfg.splitlines()[1:])
open(sys.argv[1], "w").write(body + "\n")
PY
read -r secs rss alerts summ < <(run "$f" "$out/lab.yaml")
echo "lab attacks inside a $embed-source flood: $secs s, $(echo "$rss/1024" | bc -l | cut -d. -f1) MiB, $alerts alerts ($summ summaries)"
for sid in 9700001 9700002 9700003 9700010 9700011 9700021 9700022 9700023 9700030 9700031 9700032; do
  n=$(grep '"signature_id":'"$sid" "$out/eve.json" | grep -cE '"src_ip":"(10\.77\.|127\.0\.0\.1)' || true)
  s=$(grep -c '"signature_id":9700090.*"signature_id":'"$sid" "$out/eve.json" || true)
  more=""
  [ "$s" -eq 0 ] || more=", plus $s storm summaries of it"
  printf '  %s: %s from the lab%s\n' "$sid" "$n" "$more"
done
