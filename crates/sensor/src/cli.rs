//! The command line, shaped like Suricata's and tcpdump's.

use std::path::PathBuf;

use clap::{ArgAction, Parser};

const AFTER_HELP: &str = "\
Other commands:
  fumidai test DIR|CAPTURE...  replay captures, check them against their X.expect.yaml
                               files (see fumidai test --help)
  fumidai report EVE.json...   one HTML page of verdicts and evidence from EVE logs
                               (see fumidai report --help)

Exit status:
  0  success
  1  error: bad configuration, unreadable input, or the run could not finish
  2  bad command line
  3  --fail-on-alert: the run finished and alerts fired
     (fumidai test: an expectation was not met)";

/// fumidai: a passive sensor that finds open proxies, open SMTP relays and
/// UDP amplifiers being probed or abused, and writes Suricata EVE JSON.
#[derive(Debug, Parser)]
#[command(name = "fumidai", version, about, long_about = None, after_help = AFTER_HELP)]
pub struct Cli {
    /// Replay a pcap or pcapng file; a directory replays every capture in
    /// it, in name order. Repeatable.
    #[arg(short = 'r', value_name = "FILE|DIR", action = ArgAction::Append, conflicts_with = "interface")]
    pub read: Vec<PathBuf>,

    /// How -r reads capture files: a memory map parsed in place (mmap), or
    /// libpcap (for files still being written). Compressed captures
    /// (.gz, .zst) always stream through their decoder.
    #[arg(long, value_name = "READER", value_enum, default_value_t = crate::reader::PcapReader::Mmap)]
    pub pcap_reader: crate::reader::PcapReader,

    /// With -r DIR, also replay captures in subdirectories.
    #[arg(long)]
    pub recursive: bool,

    /// Capture live on this interface.
    #[arg(short = 'i', value_name = "IFACE")]
    pub interface: Option<String>,

    /// Configuration file (default: built-in defaults, equal to the shipped sensor.yaml).
    #[arg(short = 'c', value_name = "sensor.yaml")]
    pub config: Option<PathBuf>,

    /// Directory for eve.json (created if missing); overrides eve.log_dir.
    #[arg(short = 'l', value_name = "LOGDIR")]
    pub log_dir: Option<PathBuf>,

    /// Worker threads (default: workers in the config; 0 there = available cores).
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,

    /// More log output on stderr (repeat for more).
    #[arg(short, long, action = ArgAction::Count)]
    pub verbose: u8,

    /// Less output: no progress bar, no summary; errors only.
    #[arg(short, long, action = ArgAction::Count)]
    pub quiet: u8,

    /// After opening the capture, switch to this user (name or uid), as
    /// tcpdump -Z does. The log directory and its files are handed over.
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,

    /// With --user: the group to switch to (default: the user's own).
    #[arg(long, value_name = "GROUP")]
    pub group: Option<String>,

    /// Write the process id to this file (removed at exit).
    #[arg(long, value_name = "FILE")]
    pub pidfile: Option<PathBuf>,

    /// This sensor's name in the fleet (overrides sensor.name; default: the
    /// host name): every record's `host`, its redis outputs' mark, its flow ids.
    #[arg(long, value_name = "NAME")]
    pub sensor_name: Option<String>,

    /// Write the end-of-run summary (packets, flows, events by type, alerts
    /// by signature id, decoder errors, drops, loss) as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub summary_json: Option<PathBuf>,

    /// Exit with status 3 when an alert fires; with a list of signature ids,
    /// only when one of those does (--fail-on-alert 9700002,9700021).
    #[arg(long, value_name = "SID,...", num_args = 0..=1, value_delimiter = ',')]
    pub fail_on_alert: Option<Vec<u64>>,

    /// Validate the configuration, print the effective one, and exit.
    #[arg(long)]
    pub check_config: bool,

    /// BPF filter expression for live capture (tcpdump syntax); overrides capture.bpf.
    #[arg(value_name = "EXPRESSION", trailing_var_arg = true)]
    pub bpf: Vec<String>,
}
