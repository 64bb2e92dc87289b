#!/usr/bin/env bash
# Installs the Debian packages fumidai needs, only those missing.
#   scripts/deps.sh build   what building needs (libpcap headers)
#   scripts/deps.sh test    what the test suite needs besides (real peers for output
#                           and live-capture tests)
#   scripts/deps.sh bench   what scripts/bench.sh needs (tcpdump, capinfos, mergecap,
#                           tcprewrite, GNU time)
set -euo pipefail
what=${1:-build}
pkgs=(libpcap-dev pkg-config)
case "$what" in
  build) ;;
  test) pkgs+=(tcpdump) ;;
  bench) pkgs+=(tcpdump tcpreplay wireshark-common time) ;;
  *) echo "usage: scripts/deps.sh build|test|bench" >&2; exit 2 ;;
esac
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "fumidai: installing ${missing[*]} (apt)" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "fumidai: need root or sudo to install ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
