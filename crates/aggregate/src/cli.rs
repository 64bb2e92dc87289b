//! `fumidai aggregate`'s command line.

use std::path::PathBuf;

use clap::{ArgAction, Parser};

/// Reads the EVE records of a fleet of sensors — from the Redis stream they
/// write (a consumer group, so that it resumes after a restart and shares
/// the work with other aggregators) or from files — and raises fleet-level
/// alerts: a victim hit by amplified traffic across sensors that no single
/// sensor alerted on (9700100), a stepping stone several sensors alerted on
/// (9700101), a source probing proxies and relays across several sensors'
/// networks (9700102). Windows are in event time.
#[derive(Debug, Parser)]
#[command(
    name = "fumidai aggregate",
    version,
    about,
    long_about = None,
    after_help = "Without -r, reads the stream in aggregate.yaml's `input` until SIGTERM or SIGINT \
                  (SIGHUP re-opens the output files). Exit status: 0 success; 1 an error (bad \
                  configuration, unreadable input, records that could not be delivered); 2 a bad \
                  command line."
)]
pub struct AggregateArgs {
    /// Configuration (default: the built-in one, which equals the shipped aggregate.yaml).
    #[arg(short = 'c', value_name = "aggregate.yaml")]
    pub config: Option<PathBuf>,

    /// Read these EVE files (plain or gzip) instead of the stream, close every window at
    /// their end and exit.
    #[arg(short = 'r', value_name = "EVE.json", action = ArgAction::Append)]
    pub read: Vec<PathBuf>,

    /// Where output files go (default: log_dir of the configuration).
    #[arg(short = 'l', value_name = "LOGDIR")]
    pub log_dir: Option<PathBuf>,

    /// This aggregator's name (overrides `name`; default: the host name).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,

    /// With `input.shards` > 1: which shard this aggregator analyses (0-based).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub shard: u32,

    /// Also write the end-of-run summary as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub summary_json: Option<PathBuf>,

    /// Validate the configuration, print the effective one, and exit.
    #[arg(long)]
    pub check_config: bool,

    /// More log output (repeatable).
    #[arg(short, long, action = ArgAction::Count)]
    pub verbose: u8,

    /// No summary; errors only.
    #[arg(short, long)]
    pub quiet: bool,
}
