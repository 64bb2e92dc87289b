//! The command line, shaped like Suricata's and tcpdump's.

use std::path::PathBuf;

use clap::{ArgAction, Parser};

/// fumidai: a passive sensor that finds open proxies, open SMTP relays and
/// UDP amplifiers being probed or abused, and writes Suricata EVE JSON.
#[derive(Debug, Parser)]
#[command(
    name = "fumidai",
    version,
    about,
    long_about = None,
    after_help = "Also: fumidai report EVE.json… [-o report.html]   one HTML page of verdicts and evidence (see fumidai report --help)"
)]
pub struct Cli {
    /// Replay a pcap or pcapng file; a directory replays every capture in
    /// it, in name order. Repeatable.
    #[arg(short = 'r', value_name = "FILE|DIR", action = ArgAction::Append, conflicts_with = "interface")]
    pub read: Vec<PathBuf>,

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

    /// Validate the configuration, print the effective one, and exit.
    #[arg(long)]
    pub check_config: bool,

    /// BPF filter expression for live capture (tcpdump syntax); overrides capture.bpf.
    #[arg(value_name = "EXPRESSION", trailing_var_arg = true)]
    pub bpf: Vec<String>,
}
