#!/usr/bin/env python3
"""Selects Suricata-verify's tests of the event types fumidai writes and copies them in.

    scripts/truth/sv-sweep.py /path/to/suricata-verify.git   (a clone or a bare mirror)

A test is selected when one of its `filter` checks counts http (HTTP/1.x), smtp, ntp, flow
or anomaly events (by `event_type`, or by naming their objects). Each selected test is
either copied or listed, with why, in pcaps/sv/skipped.yaml:

- copied: its capture as pcaps/sv/sv__<test>__<file> (a test under a folder, `a/b`, is
  `a__b`), its test.yaml (and test.rules, suricata.yaml when it has them) unchanged into
  pcaps/sv/truth/<capture>/suricata-verify__<test>__<name>, as scripts/truth/sv-encap.sh
  does for pcaps/encap/;
- skipped: what Suricata does not pass with its default configuration (an older
  Suricata's output, a build feature, a setting or argument that changes what it logs,
  IPS or firewall mode), HTTP/2 and exception-policy tests (issue 14 lets them go),
  tests of a protocol fumidai does not parse, and the few in NOT_CLAIMED below.

crates/sensor/tests/sv_sweep.rs runs the copied ones and reads skipped.yaml.
Needs python3 and python3-yaml (Debian), git. Deterministic for a given commit.
Prints one line per capture for pcaps/README.md: file, packets, commit, sha256.
"""

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys

import yaml

EVENT_TYPES = {"http", "smtp", "ntp", "flow", "anomaly"}
OBJECTS = ("http.", "smtp.", "email.", "ntp.", "flow.", "anomaly.")
# Event types of protocols fumidai parses: a test whose other checks are about these is
# still about what fumidai does (fumidai writes socks, irc and dns events too).
OURS = {"http", "smtp", "ntp", "flow", "anomaly", "alert", "drop", "stats", "fileinfo",
        "socks", "irc", "dns", None}
# app_proto values of fumidai's flows ("failed": no protocol recognised).
OUR_APP_PROTOS = {"http", "http1", "smtp", "ntp", "socks", "irc", "dns", "failed"}
# The Suricata version the mirror's tests describe (OISF/suricata master).
SURICATA = (9, 0, 0)
MAX_BYTES = 5 * 1024 * 1024
# Captures larger than this are left out to keep the repository small; each such test is
# listed with its size (see pcaps/README.md).
BIG = 1024 * 1024

# Arguments that leave the checks meaningful with Suricata's defaults (the runner's own
# or output-only ones). Any other argument makes a test non-default.
HARMLESS_ARGS = {
    "-k none": "checksum validation off",
    "--runmode=single": "threading only",
    "--no-random": "hashing only",
    "--set stats.interval=3600": "stats output only",
    "--set stats.decoder-events=true": "stats output only",
    "--set stream.midstream=true": "fumidai always picks TCP sessions up midstream",
    "--set threshold-file=${TEST_DIR}/threshold.config": "thresholds of the test's rules",
    "--set reputation-categories-file=${TEST_DIR}/categories.txt": "rule keyword data",
    "--set reputation-files.0=${TEST_DIR}/iprep.list": "rule keyword data",
    "--set mpm-algo=ac": "rule matcher algorithm only",
    "--set decoder.vxlan.enabled=true": "Suricata's default (decoder.vxlan.enabled: true)",
    "--set detect.guess-applayer-tx=true": "which transaction the test's own rules' alerts name",
    "--set spm-algo=bm": "rule matcher algorithm only",
}
# Top-level suricata.yaml sections that change only output, rules' variables or
# logging: a test with nothing else in its suricata.yaml runs Suricata's defaults.
HARMLESS_SECTIONS = {"outputs", "stats", "vars", "logging", "default-log-dir", "action-order",
                     "engine-analysis", "packet-alert-max", "include", "classification-file",
                     "reference-config-file", "rule-files", "default-rule-path"}

# Output settings (in a test's suricata.yaml) that make Suricata log what it does not by
# default, or not log what it does: a test with one of them is not run with the defaults.
NONDEFAULT_OUTPUT = [
    (r"^\s*ethernet:\s*(yes|true)\b", "logs Ethernet addresses (eve-log ethernet, off by default)"),
    (r"^\s*community-id:\s*(yes|true)\b", "logs community_id (eve-log community-id, off by default)"),
    (r"^\s*suricata-version:\s*(yes|true)\b", "logs suricata_version (off by default)"),
    (r"^\s*dump-all-headers:", "logs all HTTP headers (http dump-all-headers, off by default)"),
    (r"^\s*packethdr:\s*(yes|true)\b", "logs packet headers (anomaly packethdr, off by default)"),
    (r"^\s*(decode|stream):\s*(yes|true)\b",
     "logs decoder or stream anomalies (anomaly types decode/stream, off by default)"),
    (r"^\s*applayer:\s*(no|false)\b", "does not log app-layer anomalies (on by default)"),
    (r"^\s*pcap-file:\s*(yes|true)\b", "logs pcap_filename (off by default)"),
    (r"^\s*ipv6-compress:\s*(yes|true)\b", "logs IPv6 addresses compressed (expanded by default)"),
    (r"^\s*(mode:\s*extra-data|deployment:)", "logs X-Forwarded-For (xff, off by default)"),
    (r"^\s*include:.*suricata-\d", "an older release's suricata.yaml"),
    (r"^\s*conditional:", "logs conditionally (http conditional, off by default)"),
]

# Tests Suricata passes by default that need something fumidai does not claim, and why.
NOT_CLAIMED = {
    "flow-tx-cnt": "counts SMB transactions (flow.tx_cnt of an SMB capture); fumidai has no SMB parser",
}


def git(git_dir, *args, binary=False):
    out = subprocess.run(["git", "--git-dir", git_dir, *args], check=True, capture_output=True)
    return out.stdout if binary else out.stdout.decode()


def version(v):
    parts = [int(p) for p in re.findall(r"\d+", str(v))]
    return tuple((parts + [0, 0, 0])[:3])


def relevant(checks):
    """The event types of the filters issue 14 is about, in order."""
    kinds = []
    for c in checks or []:
        f = c.get("filter") if isinstance(c, dict) else None
        if not f:
            continue
        m = f.get("match") or {}
        kind = m.get("event_type")
        if kind in EVENT_TYPES or (kind is None and any(str(k).startswith(OBJECTS) for k in m)):
            kinds.append(kind)
    return kinds


def sections(text):
    try:
        y = yaml.safe_load(re.sub(r"^%YAML.*$", "", text, flags=re.M)) or {}
    except yaml.YAMLError:
        return {"(unparsable)"}
    return set(y) if isinstance(y, dict) else {"(not a map)"}


def why_skip(name, y, files, sizes):
    """Why a selected test is not run against fumidai, or None."""
    req = y.get("requires") or {}
    if "lt-version" in req and SURICATA >= version(req["lt-version"]):
        return f"describes Suricata before {req['lt-version']}; fumidai follows current Suricata"
    if "min-version" in req and SURICATA < version(req["min-version"]):
        return f"needs Suricata {req['min-version']}"
    feats = req.get("features") or []
    if "QA_SIMULATION" in feats:
        return "exception policy (issue 14 lets them be skipped): needs Suricata's QA simulation build"
    for f in feats:
        return f"needs a Suricata built with {f}, not the default build"
    if "script" in req or "files" in req:
        return "needs a check of Suricata's source tree (requires: script/files)"
    text = "\n".join(files.get(f, "") for f in ("test.yaml", "test.rules", "suricata.yaml"))
    args = " ".join(y.get("args") or [])
    if name.startswith("firewall/"):
        return "Suricata's firewall mode (an IPS ruleset with default policies), not its default"
    if "exception-policy" in name or "exception-policy" in text or "-policy" in args \
            or "--simulate-" in args or re.search(r"^\s*[\w-]*-policy:", files.get("suricata.yaml", ""), re.M):
        return "exception policy (issue 14 lets them be skipped)"
    if "http2" in name or "http2" in text:
        return "HTTP/2 (issue 14 lets them be skipped); fumidai parses HTTP/1.x only"
    if y.get("pcap") is False or "command" in y:
        return "no capture replayed (a rule-loading test, or a command of its own)"
    if y.get("env"):
        env = ", ".join(f"{k}={v}" for k, v in y["env"].items())
        return f"non-default configuration: environment {env}"
    if "--simulate-ips" in args or "stream.inline" in args or "inline" in files.get("suricata.yaml", ""):
        return "Suricata as an IPS (--simulate-ips / inline), not its default: its verdicts " \
               "change what it logs; fumidai is passive"
    kinds = set()
    apps = set()
    for c in y.get("checks") or []:
        f = c.get("filter") if isinstance(c, dict) else None
        if f:
            m = f.get("match") or {}
            kinds.add(m.get("event_type"))
            if isinstance(m.get("app_proto"), str):
                apps.add(m["app_proto"])
    theirs = sorted(str(k) for k in kinds - OURS)
    if theirs and not kinds & {"http", "smtp", "ntp"}:
        return (f"not fumidai's: a test of {', '.join(theirs)} events, which fumidai does not "
                "write (no parser or logger for them)")
    if apps and not apps & OUR_APP_PROTOS and not kinds & {"http", "smtp", "ntp"}:
        return (f"not fumidai's: a test of {', '.join(sorted(apps))} flows, a protocol fumidai "
                "does not parse")
    for a in split_args(y.get("args")):
        if a not in HARMLESS_ARGS:
            return f"non-default configuration: {a}"
    if "suricata.yaml" in files:
        extra = sorted(sections(files["suricata.yaml"]) - HARMLESS_SECTIONS)
        if extra:
            return f"non-default configuration: its suricata.yaml sets {', '.join(extra)}"
        for pattern, why in NONDEFAULT_OUTPUT:
            if re.search(pattern, files["suricata.yaml"], re.M):
                return f"non-default output configuration: its suricata.yaml {why}"
    if name in NOT_CLAIMED:
        return NOT_CLAIMED[name]
    for p in capture_paths(name, y, sizes):
        if p not in sizes:
            return f"its capture {p} is not in the repository at this commit"
        if sizes[p] is None:
            return f"its capture {p} is stored outside git (LFS/absent)"
        if sizes[p] > MAX_BYTES:
            return f"its capture is {sizes[p]} bytes, over the repository's 5 MB limit per file"
        if sizes[p] > BIG:
            return f"its capture is {sizes[p] // 1024} KiB: left out to keep the repository small"
    return None


def split_args(args):
    """The arguments, one per `--` option ("-k none --set x=y" is two)."""
    out = []
    for a in args or []:
        parts = str(a).split(" --")
        out.extend([parts[0]] + ["--" + p for p in parts[1:]])
    return out


def capture_paths(name, y, sizes):
    d = f"tests/{name}/"
    if y.get("pcap"):
        return [os.path.normpath(d + y["pcap"])]
    return sorted(p for p in sizes if p.startswith(d) and "/" not in p[len(d):]
                  and p.endswith((".pcap", ".pcapng")))


def readable_prefix(data):
    """A classic pcap cut before its first damaged record (a length no capture can
    hold, or past the end), and how many records it keeps; other files unchanged."""
    import struct
    magic = data[:4]
    order = {b"\xd4\xc3\xb2\xa1": "<", b"\x4d\x3c\xb2\xa1": "<",
             b"\xa1\xb2\xc3\xd4": ">", b"\xa1\xb2\x3c\x4d": ">"}.get(magic)
    if order is None or len(data) < 24:
        return data, None
    at, n = 24, 0
    while at + 16 <= len(data):
        incl = struct.unpack(order + "I", data[at + 8:at + 12])[0]
        if incl > 262144 or at + 16 + incl > len(data):
            break
        at += 16 + incl
        n += 1
    return data[:at], n


def main():
    git_dir = sys.argv[1] if len(sys.argv) > 1 else sys.exit(__doc__)
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), "../.."))
    commit = git(git_dir, "rev-parse", "HEAD").strip()
    out = "pcaps/sv"
    sizes = {}
    for line in git(git_dir, "ls-tree", "-r", "-l", commit, "tests/").splitlines():
        meta, path = line.split("\t", 1)
        size = meta.split()[3]
        # A blob the mirror lacks (a large file fetched apart) has no size.
        sizes[path] = int(size) if size.isdigit() else None

    tests = sorted(p[len("tests/"):-len("/test.yaml")] for p in sizes if p.endswith("/test.yaml"))
    selected, skipped = [], {}
    for name in tests:
        files = {}
        for f in ("test.yaml", "test.rules", "suricata.yaml"):
            if f"tests/{name}/{f}" in sizes:
                files[f] = git(git_dir, "show", f"{commit}:tests/{name}/{f}")
        try:
            y = yaml.safe_load(files["test.yaml"])
        except yaml.YAMLError:
            continue
        if not isinstance(y, dict) or not relevant(y.get("checks")):
            continue
        why = why_skip(name, y, files, sizes)
        if why:
            skipped[name] = why
        else:
            selected.append((name, y, files))

    if os.path.isdir(out):
        for f in os.listdir(out):
            if f.startswith("sv__") and not f.endswith(".expect.yaml"):
                os.remove(os.path.join(out, f))
        shutil.rmtree(os.path.join(out, "truth"), ignore_errors=True)
    os.makedirs(os.path.join(out, "truth"), exist_ok=True)
    caps = set()
    for name, y, files in selected:
        for p in capture_paths(name, y, sizes):
            src_test = p[len("tests/"):].rsplit("/", 1)[0]
            cap = f"sv__{src_test.replace('/', '__')}__{os.path.basename(p)}"
            if cap not in caps:
                data = git(git_dir, "show", f"{commit}:{p}", binary=True)
                kept, n = readable_prefix(data)
                if len(kept) != len(data):
                    # Every reader (libpcap, so Suricata too) stops at the damaged
                    # record; fumidai's capture tests reject a file not read to the end.
                    print(f"{cap}: cut to its first {n} records ({len(kept)} of {len(data)} "
                          "bytes): the next record header is damaged", file=sys.stderr)
                with open(os.path.join(out, cap), "wb") as fh:
                    fh.write(kept)
                caps.add(cap)
            d = os.path.join(out, "truth", cap)
            os.makedirs(d, exist_ok=True)
            for f, text in files.items():
                with open(os.path.join(d, f"suricata-verify__{name.replace('/', '__')}__{f}"), "w") as fh:
                    fh.write(text)
    # Expectation files of captures no longer copied.
    for f in os.listdir(out):
        if f.endswith(".expect.yaml"):
            stem = f[: -len(".expect.yaml")]
            if not any(c.rsplit(".", 1)[0] == stem for c in caps):
                os.remove(os.path.join(out, f))
    with open(os.path.join(out, "skipped.yaml"), "w") as fh:
        fh.write(f"# Suricata-verify tests (OISF/suricata-verify @ {commit[:12]}) whose checks count\n"
                 "# http, smtp, ntp, flow or anomaly events, not copied, and why. Written by\n"
                 "# scripts/truth/sv-sweep.py; read by crates/sensor/tests/sv_sweep.rs.\n")
        fh.write(f"commit: {commit}\n")
        fh.write(f"selected: {len(selected) + len(skipped)}\n")
        fh.write("skipped:\n")
        for name in sorted(skipped):
            fh.write(f"  {json.dumps(name)}: {json.dumps(skipped[name])}\n")
    print(f"{len(selected)} copied ({len(caps)} captures), {len(skipped)} skipped", file=sys.stderr)
    for cap in sorted(caps):
        path = os.path.join(out, cap)
        pk = subprocess.run(["capinfos", "-c", "-M", path], capture_output=True).stdout.decode()
        n = re.search(r"Number of packets:\s*(\d+)", pk)
        sha = hashlib.sha256(open(path, "rb").read()).hexdigest()
        print(cap, n.group(1) if n else "?", commit[:12], sha[:16])


if __name__ == "__main__":
    main()
