#!/usr/bin/env bash
# Installs the Debian packages fumidai needs, only those missing.
#   scripts/deps.sh build   what building needs (libpcap headers)
#   scripts/deps.sh test    what the test suite needs besides: real peers for the output
#                           tests (rsyslog, redis), the live lab (squid, dante,
#                           postfix, nginx, ntpsec, ngircd, dnsmasq, WordPress on
#                           apache2 with PHP and MariaDB, and real clients), python3 for
#                           scripts/gen-encap.py (the encapsulation matrix), a Python
#                           venv with junitparser to read `fumidai test --junit` as CI does,
#                           chromium with a font for the test that renders `fumidai report`,
#                           and g++ (checking the fuzz targets builds libFuzzer's C++)
#   scripts/deps.sh bench   what scripts/bench.sh needs (tcpdump, capinfos, mergecap,
#                           tcprewrite, GNU time)
set -euo pipefail
what=${1:-build}
pkgs=(libpcap-dev pkg-config)
case "$what" in
  build) ;;
  test) pkgs+=(tcpdump tshark rsyslog redis-server redis-tools openssl iproute2 ethtool tcpreplay squid dante-server
               postfix nginx-light ntpsec ntpsec-ntpdig swaks ncat curl python3 python3-venv
               chromium fonts-dejavu-core ngircd dnsmasq-base bind9-dnsutils wordpress apache2
               libapache2-mod-php php-mysql php-xml mariadb-server zstd g++) ;;
  bench) pkgs+=(tcpdump tcpreplay wireshark-common time bc python3) ;;
  *) echo "usage: scripts/deps.sh build|test|bench" >&2; exit 2 ;;
esac
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
apt_install() {
[ ${#missing[@]} -eq 0 ] && return 0
echo "fumidai: installing ${missing[*]} (apt)" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "fumidai: need root or sudo to install ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
# Installing a daemon must not start the system's instance of it: the tests
# start their own, on loopback or in namespaces.
made_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
  $sudo chmod 755 /usr/sbin/policy-rc.d
  made_policy=1
fi
# postfix asks how to configure itself: the lab configures its own instance.
echo "postfix postfix/main_mailer_type select No configuration" | $sudo debconf-set-selections
rc=0
$sudo apt-get update -qq || rc=$?
[ $rc -eq 0 ] && { $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || rc=$?; }
[ $made_policy -eq 1 ] && $sudo rm -f /usr/sbin/policy-rc.d
return $rc
}
apt_install
# junitparser is not packaged by Debian 12; a venv under the target
# directory keeps it off the system Python (tests/expect.rs looks there).
if [ "$what" = test ]; then
  target=${CARGO_TARGET_DIR:-target}
  case "$target" in /*) ;; *) target="$(cd "$(dirname "$0")/.." && pwd)/$target" ;; esac
  venv="$target/pyenv"
  if ! "$venv/bin/python3" -c 'import junitparser' 2>/dev/null; then
    echo "fumidai: installing junitparser into $venv (pip)" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check junitparser==5.0.3
  fi
fi
