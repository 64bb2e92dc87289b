//! `fumidai report`'s command line.

use std::path::PathBuf;

use clap::Parser;

/// Turns EVE logs into one self-contained HTML page: a verdict per host that
/// is used as a stepping stone (open proxy, open relay, amplifier, spam bot)
/// or hit through one, with timelines, clients, targets, amplification,
/// probes and run facts, each backed by the EVE records it came from.
#[derive(Debug, Parser)]
#[command(
    name = "fumidai report",
    version,
    about,
    long_about = None,
    after_help = "Exit status: 0 every line was read and the page written; 1 some input could not \
                  be read (named on stderr and on the page, which is written all the same) or no page \
                  could be written; 2 a bad command line."
)]
pub struct ReportArgs {
    /// EVE files to read (plain or gzip-compressed, e.g. rotated eve.json.1.gz), in any order.
    #[arg(value_name = "EVE.json", required = true)]
    pub files: Vec<PathBuf>,

    /// Where to write the page.
    #[arg(
        short = 'o',
        long = "output",
        value_name = "report.html",
        default_value = "report.html"
    )]
    pub output: PathBuf,

    /// Our networks (CIDR or address; comma-separated or repeated). Default: home_net of
    /// the -c file, else the sensor's built-in default.
    #[arg(long = "home-net", value_name = "NET[,NET…]", value_delimiter = ',')]
    pub home_net: Vec<String>,

    /// The sensor's configuration, for its home_net.
    #[arg(short = 'c', value_name = "sensor.yaml")]
    pub config: Option<PathBuf>,

    /// Title at the top of the page (default: the input file names).
    #[arg(long, value_name = "TEXT")]
    pub title: Option<String>,

    /// No progress bar and no summary line; warnings and errors only.
    #[arg(short, long)]
    pub quiet: bool,
}
