#!/usr/bin/env bash
# Copies Suricata-verify's SMTP tests (every tests/smtp*) into pcaps/: each capture as
# pcaps/sv__<test>__<file> (the test that owns the file; tests that replay another test's
# capture with `pcap: ../<test>/<file>` share it), and each test's test.yaml (with test.rules
# and suricata.yaml when it has them) unchanged into pcaps/truth/<capture>/ as
# suricata-verify__<test>__<name>. crates/sensor/tests/truth.rs evaluates the checks.
#   scripts/truth/sv-smtp.sh /path/to/suricata-verify.git   (a clone or a bare mirror)
# Prints one line per capture for pcaps/README.md: file, packets, commit, sha256.
set -euo pipefail
git_dir=${1:?usage: sv-smtp.sh SURICATA-VERIFY-GIT-DIR}
cd "$(dirname "$0")/../.."
out=pcaps
commit=$(git --git-dir="$git_dir" rev-parse HEAD)
show() { git --git-dir="$git_dir" show "$commit:tests/$1"; }
mapfile -t tests < <(git --git-dir="$git_dir" ls-tree -d --name-only "$commit" tests/ | sed 's|^tests/||' | grep '^smtp')
caps=()
for t in "${tests[@]}"; do
  # The capture: the one its test.yaml names with `pcap:`, or the test's own.
  pcap_path=$(show "$t/test.yaml" | awk '/^pcap:/ {print $2}')
  case "$pcap_path" in
    */*) src_test=$(basename "$(dirname "$pcap_path")"); file=$(basename "$pcap_path") ;;
    ?*) src_test=$t; file=$pcap_path ;;
    *) src_test=$t
       file=$(git --git-dir="$git_dir" ls-tree --name-only "$commit" "tests/$t/" | sed 's|.*/||' | grep -E '\.pcap$') ;;
  esac
  cap="sv__${src_test}__${file}"
  if [ ! -f "$out/$cap" ]; then
    show "$src_test/$file" > "$out/$cap"
    # A capture damaged as published (smtp-to-comma's: a hand edit broke a record
    # length) keeps its readable packets, byte for byte the file's start, which is
    # all any reader (Suricata's too) gets from it.
    if ! capinfos "$out/$cap" >/dev/null 2>&1; then
      editcap -F pcap "$out/$cap" "$out/$cap.readable" 2>/dev/null || true
      mv "$out/$cap.readable" "$out/$cap"
    fi
  fi
  mkdir -p "$out/truth/$cap"
  for f in test.yaml test.rules suricata.yaml; do
    if git --git-dir="$git_dir" cat-file -e "$commit:tests/$t/$f" 2>/dev/null; then
      show "$t/$f" > "$out/truth/$cap/suricata-verify__${t}__$f"
    fi
  done
  caps+=("$cap")
done
printf '%s\n' "${caps[@]}" | sort -u | while read -r c; do
  printf '%s %s %s %s\n' "$c" "$(capinfos -c -M "$out/$c" | awk '/Number of packets/ {print $4}')" \
    "${commit:0:12}" "$(sha256sum "$out/$c" | cut -c1-16)"
done
