#!/usr/bin/env bash
# Copies Suricata-verify's decoder tests for tunnels and encapsulations into pcaps/encap/:
# each test's capture as pcaps/encap/sv__<test>__<file>, and its test.yaml (with test.rules
# and suricata.yaml when it has them) unchanged into pcaps/encap/truth/<capture>/ as
# suricata-verify__<test>__<name>. crates/sensor/tests/encap.rs evaluates the checks.
#   scripts/truth/sv-encap.sh /path/to/suricata-verify.git   (a clone or a bare mirror)
# Prints one line per capture for pcaps/README.md: file, packets, commit, sha256.
set -euo pipefail
git_dir=${1:?usage: sv-encap.sh SURICATA-VERIFY-GIT-DIR}
cd "$(dirname "$0")/../.."
out=pcaps/encap
commit=$(git --git-dir="$git_dir" rev-parse HEAD)
# test directory -> the test whose directory holds the capture it replays
# (bug-7725-02..04 replay 7725-01's capture under Suricata 7 defaults, "lt-version: 8": left out.)
tests=(
  bug-4571-01 bug-4571-03 bug-4571-04 bug-4571-06 bug-7725-01
  bug-5633-gre-01 bug-5633-gre-02 decode-chdlc-01 decode-chdlc-02
  decode-erspan-typeI-01 decode-erspan-typeI-02 decode-erspan-typeII-01
  decode-etag-01 decode-etag-02 decode-teredo-01 decode-too-many-layers
  decode-vntag-01 decode-vntag-02 geneve-decoder pppoe
  vxlan-decoder-01 vxlan-decoder-02 vxlan-decoder-03 vxlan-decoder-04 vxlan-decoder-07-arp
  vxlan-non-zero-reserved-fields
)
mkdir -p "$out/truth"
show() { git --git-dir="$git_dir" show "$commit:tests/$1"; }
for t in "${tests[@]}"; do
  # The capture: the test's own, or the one its test.yaml names with `pcap:`.
  pcap_path=$(show "$t/test.yaml" | awk '/^pcap:/ {print $2}')
  if [ -n "$pcap_path" ]; then
    src_test=$(basename "$(dirname "$pcap_path")"); file=$(basename "$pcap_path")
  else
    src_test=$t
    file=$(git --git-dir="$git_dir" ls-tree --name-only "$commit" "tests/$t/" | sed 's|.*/||' | grep -E '\.pcap$')
  fi
  cap="sv__${src_test}__${file}"
  [ -f "$out/$cap" ] || show "$src_test/$file" > "$out/$cap"
  mkdir -p "$out/truth/$cap"
  for f in test.yaml test.rules suricata.yaml; do
    if git --git-dir="$git_dir" cat-file -e "$commit:tests/$t/$f" 2>/dev/null; then
      show "$t/$f" > "$out/truth/$cap/suricata-verify__${t}__$f"
    fi
  done
done
for f in "$out"/sv__*; do
  printf '%s %s %s %s\n' "$(basename "$f")" "$(capinfos -c -M "$f" | awk '/Number of packets/ {print $4}')" \
    "${commit:0:12}" "$(sha256sum "$f" | cut -c1-16)"
done
