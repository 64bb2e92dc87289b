#!/usr/bin/env bash
# End-to-end replay benchmark, everything in one run on the same files: the page-cache
# floor (`cat FILE > /dev/null`), the libpcap read floor (`tcpdump -n -r FILE -w /dev/null`),
# and fumidai with 1 and 2 workers (and with --pcap-reader libpcap, and with no output), each
# the best of RUNS: wall time, packets/s, Gbit/s, CPU seconds per million packets (the figure
# to quote for scaling on a machine with few cores), peak RSS, and fumidai's per-batch
# latency percentiles.
#
#   scripts/bench.sh [PCAP...]
#
# Without PCAP: the team's shared benchmark capture (../shared/bench/make-mix.sh, built into
# target/bench/mix.pcap; else target/bench/repo-mix.pcap from pcaps/ by
# scripts/make-bench-pcap.sh), and the many-flow capture when there is one
# (target/bench/manyflow.pcap, or MANYFLOW=path; ../shared/bench/make-manyflow.sh builds it
# from Zeek's repository: ZEEK_GIT_DIR=... scripts/bench.sh builds it once).
# Environment: RUNS (default 3), WORKERS (default "1 2"), FUMIDAI_ARGS (extra arguments,
# e.g. "-c sensor.yaml"), FUMIDAI (a binary to measure instead of building this tree's, e.g.
# an older build for a before/after table), FLOWCOST=0 to skip the cost of one flow,
# SURICATA (a suricata binary: its single and autofp run modes join the table, with
# SURICATA_CONFIG, default its own etc/suricata/suricata.yaml, and SURICATA_RULES, default
# benches/suricata/stepping-stones.rules: rules that make it inspect what fumidai inspects).
# Live capture is measured by scripts/bench-live.sh (root, namespaces).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-3}
workers=${WORKERS:-"1 2"}
target=${CARGO_TARGET_DIR:-target}
mkdir -p target/bench
scripts/deps.sh bench
pcaps=("$@")
if [ ${#pcaps[@]} -eq 0 ]; then
  if [ -f ../shared/bench/make-mix.sh ]; then
    [ -f target/bench/mix.pcap ] || bash ../shared/bench/make-mix.sh target/bench/mix.pcap
    pcaps+=(target/bench/mix.pcap)
  else
    [ -f target/bench/repo-mix.pcap ] || scripts/make-bench-pcap.sh target/bench/repo-mix.pcap
    pcaps+=(target/bench/repo-mix.pcap)
  fi
  many=${MANYFLOW:-target/bench/manyflow.pcap}
  if [ ! -f "$many" ] && [ -n "${ZEEK_GIT_DIR:-}" ] && [ -f ../shared/bench/make-manyflow.sh ]; then
    bash ../shared/bench/make-manyflow.sh "$ZEEK_GIT_DIR" "$many"
  fi
  if [ -f "$many" ]; then
    pcaps+=("$many")
  else
    echo "many-flow capture: not there ($many); ZEEK_GIT_DIR=<zeek git dir> builds it" >&2
  fi
fi
bin=${FUMIDAI:-}
if [ -z "$bin" ]; then
  cargo build --release --locked --bin fumidai >&2
  bin="$target/release/fumidai"
fi
out=$(mktemp -d); trap 'rm -rf "$out"' EXIT

# best_of CMD...: runs CMD $runs times; prints "wall user sys peak_rss_kb" of the fastest,
# and keeps its --summary-json (if it wrote $out/s.json) as $out/best.json. The wall time is
# taken here, to the microsecond: time(1)'s is in hundredths, and a run of the mix takes
# about a quarter of a second, so one hundredth moved its packets/s by 4 %.
best_of() {
  local best="" line tf="$out/time" t0 t1
  rm -f "$out/best.json"
  for _ in $(seq "$runs"); do
    rm -f "$out/s.json"
    t0=$EPOCHREALTIME
    /usr/bin/time -f "%U %S %M" -o "$tf" "$@" >/dev/null 2>&1
    t1=$EPOCHREALTIME
    # Microseconds, whatever the locale's decimal separator.
    t0=$((10#${t0//[.,]/})) t1=$((10#${t1//[.,]/}))
    line="$(printf '%d.%06d' $(((t1 - t0) / 1000000)) $(((t1 - t0) % 1000000))) $(tail -1 "$tf")"
    if [ -z "$best" ] || awk -v a="${line%% *}" -v b="${best%% *}" 'BEGIN{exit !(a<b)}'; then
      best=$line
      [ -f "$out/s.json" ] && cp "$out/s.json" "$out/best.json"
    fi
  done
  echo "$best"
}

# report NAME WALL USER SYS RSS: one row. Rows after the libpcap floor's also say what share
# of the floor's packets/s they reach (the floor's wall time over theirs).
floor=""
report() {
  local lat="-"
  if [ -f "$out/best.json" ]; then
    lat=$(python3 -c '
import json, sys
l = json.load(open(sys.argv[1])).get("latency", {}).get("batch_us", {})
print("%s/%s/%s" % (l.get("p50", "-"), l.get("p99", "-"), l.get("max", "-")) if l else "-")' "$out/best.json")
  fi
  awk -v n="$1" -v s="$2" -v u="$3" -v y="$4" -v r="$5" -v p="$packets" -v b="$bytes" -v l="$lat" -v f="$floor" 'BEGIN {
    if (s <= 0) s = 0.0001
    share = (f == "") ? "-" : sprintf("%.0f %%", 100 * f / s)
    printf "%-30s %7.3f s %7.2f M pkt/s %6.2f Gbit/s %6.3f CPU s/Mpkt %7.1f MiB  %-5s  %s\n",
      n, s, p / s / 1e6, b * 8 / s / 1e9, (u + y) / (p / 1e6), r / 1024, share, l }'
}

printf 'eve:\n  outputs: []\n' >"$out/no-output.yaml"
for pcap in "${pcaps[@]}"; do
  read -r packets bytes < <(capinfos -c -d -M -T -r "$pcap" | awk -F'\t' '{print $2, $3}')
  # Every tool reads from memory, and from the same page cache: a file just written
  # (mergecap, cp) is cached in the pieces it was written in, one read back sequentially in
  # large folios on kernels whose page cache has them, and mapping the file costs the
  # kernel less then. Dropping the file's pages and reading it once makes that state the
  # same whatever wrote the file (the drop touches this file's pages only).
  dd if="$pcap" iflag=nocache count=0 status=none 2>/dev/null || true
  cat "$pcap" >/dev/null
  echo
  echo "capture: $pcap ($packets packets, $bytes bytes), best of $runs, $(nproc) cores"
  echo "                                wall      packets/s    Gbit/s   CPU per 10^6 pkts  peak RSS  floor  batch µs p50/p99/max"
  floor=""
  read -r s u y r < <(best_of sh -c "cat '$pcap' > /dev/null")
  report "cat > /dev/null (page cache)" "$s" "$u" "$y" "$r"
  read -r s u y r < <(best_of tcpdump -n -r "$pcap" -w /dev/null)
  report "tcpdump -r (libpcap floor)" "$s" "$u" "$y" "$r"
  floor=$s
  for w in $workers; do
    # shellcheck disable=SC2086
    read -r s u y r < <(best_of "$bin" -q -r "$pcap" -l "$out" --workers "$w" --summary-json "$out/s.json" ${FUMIDAI_ARGS:-})
    report "fumidai --workers $w" "$s" "$u" "$y" "$r"
  done
  w=${workers##* }
  if "$bin" --help | grep -q -- --pcap-reader; then
    # shellcheck disable=SC2086
    read -r s u y r < <(best_of "$bin" -q -r "$pcap" -l "$out" --workers "$w" --pcap-reader libpcap --summary-json "$out/s.json" ${FUMIDAI_ARGS:-})
    report "  ... --pcap-reader libpcap" "$s" "$u" "$y" "$r"
  fi
  # The same with no output at all: what writing eve.json costs (serialisation stays, it
  # happens in the workers).
  read -r s u y r < <(best_of "$bin" -q -r "$pcap" -l "$out" --workers "$w" -c "$out/no-output.yaml" --summary-json "$out/s.json")
  report "  ... no output (sink off)" "$s" "$u" "$y" "$r"
  if [ -n "${SURICATA:-}" ]; then
    suri_cfg=${SURICATA_CONFIG:-$(dirname "$(dirname "$SURICATA")")/etc/suricata/suricata.yaml}
    suri_rules=${SURICATA_RULES:-benches/suricata/stepping-stones.rules}
    for mode in single autofp; do
      rm -f "$out/s.json"
      read -r s u y r < <(best_of sh -c "rm -rf '$out/suri'; mkdir -p '$out/suri'; exec '$SURICATA' -c '$suri_cfg' -S '$suri_rules' -r '$pcap' -l '$out/suri' -k none --runmode $mode")
      report "suricata --runmode $mode" "$s" "$u" "$y" "$r"
    done
  fi
done

# What a flow costs when an attacker forges them (issue 12's targets).
if [ "${FLOWCOST:-1}" != 0 ]; then
  echo
  FUMIDAI="$bin" scripts/bench-floods.sh flow-cost
fi
