#!/usr/bin/env bash
# Live capture benchmark: in two network namespaces joined by a veth pair
# (scripts/veth-lab.sh), tcpreplay replays a capture (addresses rewritten into the lab's own
# subnets) at several rates into the far end, where the sensor captures with -i. For each
# sensor and rate: packets sent, packets the kernel delivered, kernel drops, the sensor's own
# drops, loss, whether its alerts equal those of -r on the same file, CPU, and (fumidai)
# capture-to-EVE latency. The figure that matters is the highest rate with < 0.1 % loss.
#
#   scripts/bench-live.sh [PCAP] [SURICATA]
#
# PCAP: default the shared benchmark mix (as scripts/bench.sh builds it). SURICATA: a
# suricata binary to run the same way (--af-packet and --pcap), in the same run; without
# one, or if it is not there, its rows are skipped with a message.
# Environment: RATES (Mbit/s steps, "top" for tcpreplay --topspeed; default "200 500 1000
# top"; empty: only the elephant), WORKERS (default 2), METHODS (fumidai's capture.method values,
# af-packet-v2 being af-packet with capture.tpacket: 2, and any of them with "+rt" run under
# real-time scheduling, chrt -f 1; default "pcap af-packet af-packet-v2 af-packet-v2+rt";
# empty: no fumidai rows),
# FLUSH_MS (capture.flush_ms, default 1: latency over wakeups),
# ELEPHANT=GB (also replay the elephant capture, scripts/make-elephant.sh, at ELEPHANT_RATES,
# default "1000 top"; GB default 2, 0 to skip), SURICATA_CONFIG (default the binary's own
# etc/suricata/suricata.yaml, else /etc/suricata/suricata.yaml), SURICATA_RULES (default
# benches/suricata/stepping-stones.rules: rules that make it inspect what fumidai inspects),
# SURICATA_MODES (default "af-packet pcap").
# One tcpreplay tops out at a few hundred thousand packets/s on 2 cores and busy-waits a
# whole core: at "top" it, not the sensor, may be the ceiling (see ../shared/bench/README.md).
# SENSOR_CPUS and REPLAY_CPUS (taskset lists, e.g. 1 and 0) pin every sensor to the same cores
# and the generator to others, so each sensor gets the same budget and a slow one loses
# packets instead of starving the generator: how to find where a sensor starts to lose when
# the generator cannot outrun the machine. The kernel's delivery into the capture sockets
# runs on the sending core (veth), so it is charged to neither sensor. SENSOR_CPU_PERCENT=P
# further caps every sensor at P % of one core (a CPU cgroup, in 10 ms periods so that a
# throttled sensor stalls for at most a few milliseconds): one budget for all, smaller than
# the generator's, so that where each starts to lose can be seen on 2 cores. LOOPS=N replays the
# capture N times over (tcpreplay --loop), so that a sensor slower than the generator cannot
# hide behind its capture buffer for the second or two one pass lasts; the flows then repeat,
# so the alerts are not compared with -r's ("-"). REPEAT=N runs every sensor at every rate N
# times, the sensors taking turns in each round so that all meet the same machine; a rate then
# counts as lossless only when every one of its N runs lost < 0.1 %, and the summary gives,
# per rate, in how many runs it was, the mean and the largest loss. Where a throttled budget
# makes single runs noisy, this is what tells a sensor's edge. FLUSH_MS=10 gives fumidai's
# af-packet rings the block timeout Suricata's rings have by default (block-timeout: 10).
# Needs root, iproute2, tcpreplay, wireshark-common.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench-live.sh: needs root (network namespaces, capture)" >&2; exit 1; }
rates=${RATES-"200 500 1000 top"}
elephant_rates=${ELEPHANT_RATES:-"1000 top"}
workers=${WORKERS:-2}
methods=${METHODS-"pcap af-packet af-packet-v2 af-packet-v2+rt"}
flush=${FLUSH_MS:-1}
elephant=${ELEPHANT:-2}
loops=${LOOPS:-1}
repeat=${REPEAT:-1}
pin_sensor=() pin_replay=()
[ -z "${SENSOR_CPUS:-}" ] || pin_sensor=(taskset -c "$SENSOR_CPUS")
[ -z "${REPLAY_CPUS:-}" ] || pin_replay=(taskset -c "$REPLAY_CPUS")
# The CPU cgroup for SENSOR_CPU_PERCENT: cgroup v2, else v1's cpu controller.
cg=
# in_cgroup CMD...: runs CMD in that cgroup, if any. Outside the namespace: ip netns exec
# mounts a /sys of its own, without the cgroup file systems.
in_cgroup() {
  if [ -z "$cg" ]; then "$@"; else sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$cg" "$@"; fi
}
scripts/deps.sh bench
target=${CARGO_TARGET_DIR:-target}
cargo build --release --locked --bin fumidai >&2
bin=$(realpath "$target/release/fumidai")
mkdir -p target/bench
pcap=${1:-}
if [ -z "$pcap" ]; then
  pcap=target/bench/mix.pcap
  [ -f "$pcap" ] || bash ../shared/bench/make-mix.sh "$pcap"
fi
suricata=${2:-}

name=flb$$
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  scripts/veth-lab.sh down "$name"
  rm -rf "$work"
  [ -z "$cg" ] || rmdir "$cg" 2>/dev/null || true
}
trap cleanup EXIT
# Made once the trap is set, so that it is removed however the script ends.
if [ -n "${SENSOR_CPU_PERCENT:-}" ]; then
  quota=$((SENSOR_CPU_PERCENT * 100))
  if grep -qw cpu /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then
    grep -qw cpu /sys/fs/cgroup/cgroup.subtree_control || echo +cpu >/sys/fs/cgroup/cgroup.subtree_control
    cg=/sys/fs/cgroup/fumidai-bench-$$
    mkdir "$cg"
    echo "$quota 10000" >"$cg/cpu.max"
  elif [ -d /sys/fs/cgroup/cpu ]; then
    cg=/sys/fs/cgroup/cpu/fumidai-bench-$$
    mkdir "$cg"
    echo 10000 >"$cg/cpu.cfs_period_us"
    echo "$quota" >"$cg/cpu.cfs_quota_us"
  else
    echo "bench-live.sh: SENSOR_CPU_PERCENT needs a CPU cgroup controller, and none is mounted" >&2
    exit 1
  fi
fi
scripts/veth-lab.sh up "$name"
tx="$name-tx" rx="$name-rx" dev_tx="$name-t" dev_rx="$name-r"

# The capture with the lab's addresses, once per capture.
lab_of() {
  local f
  f=target/bench/$(basename "$1" .pcap)-lab.pcap
  if [ ! -f "$f" ] || [ "$1" -nt "$f" ]; then scripts/veth-lab.sh rewrite "$1" "$f" >&2; fi
  echo "$f"
}

# Alerts of an EVE file as sorted "sid src:port -> dst:port" lines.
alerts() {
  python3 - "$1" <<'PY'
import json, sys
out = []
for line in open(sys.argv[1], errors="replace"):
    try:
        e = json.loads(line)
    except ValueError:
        continue
    if e.get("event_type") == "alert":
        a = e["alert"]
        out.append(f'{a["signature_id"]} {e.get("src_ip")}:{e.get("src_port")} -> {e.get("dest_ip")}:{e.get("dest_port")}')
for l in sorted(out):
    print(l)
PY
}

# same_alerts WANT GOT: "yes", or "no:-M+N" (M alerts of -r missing, N not in -r).
same_alerts() {
  if [ "$loops" != 1 ]; then echo -; return; fi
  if cmp -s "$1" "$2"; then echo yes; else
    echo "no:-$(comm -23 "$1" "$2" | wc -l)+$(comm -13 "$1" "$2" | wc -l)"
  fi
}

# replay FILE RATE: runs tcpreplay in the sending namespace, prints packets sent.
replay() {
  local speed=(--topspeed)
  [ "$2" = top ] || speed=(--mbps="$2")
  [ "$loops" = 1 ] || speed+=(--loop="$loops")
  ip netns exec "$tx" "${pin_replay[@]}" tcpreplay -i "$dev_tx" --preload-pcap "${speed[@]}" "$1" >"$work/replay.txt" 2>&1 \
    || { cat "$work/replay.txt" >&2; exit 1; }
  awk '/Actual:/ {print $2; exit}' "$work/replay.txt"
}

# rate_of: what tcpreplay achieved, packets/s.
rate_of() { awk '/Rated:/ {for (i=1;i<=NF;i++) if ($i ~ /pps/) {print $(i-1); exit}}' "$work/replay.txt"; }

header() {
  printf '%-24s %6s %10s %10s %10s %9s %9s %8s %7s %8s %9s %9s\n' \
    sensor "Mbit/s" "pps sent" sent delivered k.drops own.drops loss% alerts "CPU s" "p50 µs" "p99 µs"
}

# run_fumidai FILE METHOD RATE: one replay into fumidai; prints the row. METHOD af-packet-v2:
# af-packet with TPACKET_V2 rings; a "+rt" suffix runs the sensor under real-time scheduling
# (chrt -f 1), as a latency-sensitive deployment would (docs/fumidai.service).
run_fumidai() {
  local file=$1 method=$2 rate=$3 out="$work/f" tpacket=3 label=$2 sched=()
  rm -rf "$out"; mkdir -p "$out"
  if [ "${method%+rt}" != "$method" ]; then
    if [ -n "$cg" ]; then
      # A CPU cgroup grants real-time tasks no time unless configured to.
      echo "fumidai $method: skipped under SENSOR_CPU_PERCENT (real-time scheduling in a capped cgroup)"
      return
    fi
    method=${method%+rt} sched=(chrt -f 1) label="${method} rt"
  fi
  if [ "$method" = af-packet-v2 ]; then method=af-packet tpacket=2 label="af-packet v2${sched:+ rt}"; fi
  printf 'capture:\n  method: %s\n  tpacket: %s\n  flush_ms: %s\n  buffer_size: 64mb\n' \
    "$method" "$tpacket" "$flush" >"$out/c.yaml"
  in_cgroup ip netns exec "$rx" /usr/bin/time -f "%U %S" -o "$out/time" "${pin_sensor[@]}" "${sched[@]}" "$bin" -q -i "$dev_rx" -c "$out/c.yaml" \
    -l "$out" --workers "$workers" --pidfile "$out/pid" --summary-json "$out/summary.json" 2>"$out/err" &
  pids+=($!)
  local waited=0
  until [ -s "$out/pid" ] || [ $waited -ge 100 ]; do sleep 0.1; waited=$((waited + 1)); done
  sleep 1.5
  local sent; sent=$(replay "$file" "$rate")
  sleep 1
  kill -TERM "$(cat "$out/pid")"
  wait "${pids[-1]}" || { cat "$out/err" >&2; exit 1; }
  alerts "$out/eve.json" >"$out/alerts"
  python3 - "$out/summary.json" "$sent" "$(cat "$out/time")" "$(same_alerts "$ref_alerts" "$out/alerts")" \
    "fumidai $label w$workers" "$rate" "$(rate_of)" "$rows" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
sent = int(sys.argv[2]); cpu = sum(float(x) for x in sys.argv[3].split())
i, l = s["input"], s["loss"]
got = s["packets"]
loss = max(0, sent - got) / sent * 100 if sent else 0
lat = s.get("latency", {}).get("capture_to_eve_us", {})
print("%-24s %6s %10s %10d %10d %9d %9d %8.3f %7s %8.2f %9s %9s" % (
    sys.argv[5], sys.argv[6], sys.argv[7], sent, i["kernel_received"] - i["kernel_dropped"],
    i["kernel_dropped"], l.get("worker_dropped", 0), loss, sys.argv[4].split()[0], cpu,
    lat.get("p50", "-"), lat.get("p99", "-")))
with open(sys.argv[8], "a") as f:
    f.write("%s\t%s\t%s\t%.4f\t%s\n" % (sys.argv[5], sys.argv[6], sys.argv[7], loss, lat.get("p99", "-")))
PY
}

# run_suricata FILE MODE RATE: the same with Suricata (--af-packet or --pcap).
run_suricata() {
  local file=$1 mode=$2 rate=$3 out="$work/s"
  rm -rf "$out"; mkdir -p "$out"
  in_cgroup ip netns exec "$rx" /usr/bin/time -f "%U %S" -o "$out/time" "${pin_sensor[@]}" "$suricata" -c "$suricata_cfg" \
    -S "$suricata_rules" "--$mode=$dev_rx" -l "$out" --pidfile "$out/pid" -k none >"$out/err" 2>&1 &
  pids+=($!)
  local waited=0
  until grep -qE "engine started|Engine started|all [0-9]+ packet processing threads" "$out/err" "$out/suricata.log" 2>/dev/null \
    || [ $waited -ge 300 ]; do sleep 0.1; waited=$((waited + 1)); done
  sleep 1
  local sent; sent=$(replay "$file" "$rate")
  sleep 2
  kill -TERM "$(cat "$out/pid")"
  wait "${pids[-1]}" || true
  alerts "$out/eve.json" >"$out/alerts"
  python3 - "$out/eve.json" "$sent" "$(cat "$out/time" 2>/dev/null || echo 0 0)" \
    "$(same_alerts "$suri_ref" "$out/alerts")" "suricata --$mode" "$rate" "$(rate_of)" "$rows" <<'PY'
import json, sys
stats = {}
for line in open(sys.argv[1], errors="replace"):
    if '"event_type":"stats"' in line:
        stats = json.loads(line)["stats"]
cap = stats.get("capture", {})
kp, kd = cap.get("kernel_packets", 0), cap.get("kernel_drops", 0)
got = stats.get("decoder", {}).get("pkts", 0)
sent = int(sys.argv[2]); cpu = sum(float(x) for x in sys.argv[3].split())
loss = max(0, sent - got) / sent * 100 if sent else 0
print("%-24s %6s %10s %10d %10d %9d %9s %8.3f %7s %8.2f %9s %9s" % (
    sys.argv[5], sys.argv[6], sys.argv[7], sent, kp - kd if kp >= kd else kp, kd, "-", loss,
    sys.argv[4].split()[0], cpu, "-", "-"))
with open(sys.argv[8], "a") as f:
    f.write("%s\t%s\t%s\t%.4f\t-\n" % (sys.argv[5], sys.argv[6], sys.argv[7], loss))
PY
}

# best_rates: per sensor, the highest rate tcpreplay achieved with < 0.1 % loss (the figure
# that matters; with REPEAT, in every run at that rate, as the mean rate achieved), and the p99
# capture-to-EVE latency of the run nearest half that rate; with REPEAT also, per sensor and
# rate, how many runs were lossless and their mean and largest loss; and the ratio of each
# fumidai row's best rate to the best of Suricata's.
best_rates() {
  python3 - "$rows" "$repeat" <<'PY'
import sys
runs = {}
for line in open(sys.argv[1]):
    sensor, step, pps, loss, p99 = line.rstrip("\n").split("\t")
    try:
        pps = float(pps)
    except ValueError:
        continue
    runs.setdefault(sensor, {}).setdefault(step, []).append((pps, float(loss), p99))
repeat = int(sys.argv[2])
mean = lambda rs, i: sum(r[i] for r in rs) / len(rs)
lossless = lambda rs: all(r[1] < 0.1 for r in rs)
if repeat > 1:
    print()
    print("per rate, over %d runs each:" % repeat)
    print("%-24s %6s %10s %9s %10s %10s" % ("sensor", "Mbit/s", "mean pps", "lossless", "mean loss%", "max loss%"))
    for sensor, steps in runs.items():
        for step, rs in steps.items():
            print("%-24s %6s %10.0f %9s %10.3f %10.3f" % (
                sensor, step, mean(rs, 0), "%d of %d" % (sum(r[1] < 0.1 for r in rs), len(rs)),
                mean(rs, 1), max(r[1] for r in rs)))
print()
print("highest rate with < 0.1 %% loss%s (packets/s tcpreplay achieved; p99 latency nearest half of it):"
      % (" in every run" if repeat > 1 else ""))
best, capped = {}, set()
for sensor, steps in runs.items():
    every = [r for rs in steps.values() for r in rs]
    ok = [mean(rs, 0) for rs in steps.values() if lossless(rs)]
    if not ok:
        low = min(steps.values(), key=lambda rs: mean(rs, 0))
        print("  %-24s none of the rates (the lowest, %.0f pps, lost up to %.3f %%)" % (
            sensor, mean(low, 0), max(r[1] for r in low)))
        continue
    pps = max(ok)
    best[sensor] = pps
    half = min(every, key=lambda r: abs(r[0] - pps / 2))
    # Lossless at every rate tried: its edge is higher still.
    if lossless(every):
        capped.add(sensor)
    print("  %-24s %10.0f pps%s; p99 %s µs at %.0f pps" % (
        sensor, pps, " (the highest rate tried: under 0.1 % loss at every rate)"
        if sensor in capped else "", half[2], half[0]))
suricata = {s: p for s, p in best.items() if s.startswith("suricata")}
if suricata:
    ref = max(suricata, key=suricata.get)
    for sensor, pps in best.items():
        if not sensor.startswith("fumidai"):
            continue
        if ref in capped:
            print("  %-24s no ratio: %s lost nothing at any rate tried" % (sensor, ref))
        else:
            print("  %-24s %s%.2f × %s's" % (
                sensor, "at least " if sensor in capped else "", pps / suricata[ref], ref))
PY
}

lab=$(lab_of "$pcap")
echo "capture: $lab ($(capinfos -c -M -T -r "$lab" | awk -F'\t' '{print $2}') packets$([ "$loops" = 1 ] || echo ", replayed $loops times over")), $(nproc) cores, $workers workers, flush_ms $flush"
[ -z "${SENSOR_CPUS:-}" ] || echo "sensors on CPUs $SENSOR_CPUS, generator on CPUs ${REPLAY_CPUS:-any}"
[ -z "$cg" ] || echo "sensors capped at ${SENSOR_CPU_PERCENT} % of a core ($cg)"
"$bin" -q -r "$lab" -l "$work/ref" --workers "$workers"
alerts "$work/ref/eve.json" >"$work/ref.alerts"
ref_alerts="$work/ref.alerts"
rows="$work/rows"
: >"$rows"
echo "alerts with -r: $(wc -l <"$ref_alerts"); latency: capture to EVE"
suricata_cfg=${SURICATA_CONFIG:-}
if [ -z "$suricata_cfg" ] && [ -n "$suricata" ]; then
  suricata_cfg=$(dirname "$(dirname "$suricata")")/etc/suricata/suricata.yaml
  [ -f "$suricata_cfg" ] || suricata_cfg=/etc/suricata/suricata.yaml
fi
suricata_rules=$(realpath "${SURICATA_RULES:-benches/suricata/stepping-stones.rules}")
suricata_modes=
if [ -z "$suricata" ]; then
  echo "suricata: no binary given (scripts/bench-live.sh PCAP /path/to/suricata): its rows are skipped"
elif [ ! -x "$suricata" ]; then
  echo "suricata: $suricata is not an executable here: its rows are skipped"
else
  mkdir -p "$work/sref"
  "$suricata" -c "$suricata_cfg" -S "$suricata_rules" -r "$lab" -l "$work/sref" -k none >/dev/null 2>&1
  alerts "$work/sref/eve.json" >"$work/sref.alerts"
  suri_ref="$work/sref.alerts"
  suricata_modes=${SURICATA_MODES:-af-packet pcap}
fi
header

for round in $(seq "$repeat"); do
  [ "$repeat" = 1 ] || echo "round $round of $repeat"
  for method in $methods; do
    for rate in $rates; do run_fumidai "$lab" "$method" "$rate"; done
  done
  for mode in $suricata_modes; do
    for rate in $rates; do run_suricata "$lab" "$mode" "$rate"; done
  done
done

best_rates

if [ "$elephant" != 0 ]; then
  big=target/bench/elephant-${elephant}g.pcap
  [ -f "$big" ] || scripts/make-elephant.sh "$big" "$elephant" "$pcap"
  biglab=$(lab_of "$big")
  echo
  echo "elephant: $biglab ($(capinfos -c -M -T -r "$biglab" | awk -F'\t' '{print $2}') packets: one ${elephant} GB download among the small flows)"
  # A directory of its own: fumidai appends to an eve.json that is there.
  rm -rf "$work/ref"
  "$bin" -q -r "$biglab" -l "$work/ref" --workers "$workers"
  alerts "$work/ref/eve.json" >"$ref_alerts"
  echo "alerts with -r: $(wc -l <"$ref_alerts") (the small flows')"
  header
  for method in $methods; do
    for rate in $elephant_rates; do
      run_fumidai "$biglab" "$method" "$rate"
      python3 -c "
import json, sys
c = json.load(open('$work/f/summary.json'))['counters'].get('capture', {})
print('   per-worker drops:', c.get('worker_drops', {}), ' kernel drops:', c.get('kernel_drops', 0))"
    done
  done
fi
