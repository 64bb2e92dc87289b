//! Packet time. fumidai's clocks (flow timeouts, rate windows, stats
//! intervals) all run on the timestamps in the packets, so a replay gives the
//! same answer at any speed.

/// Microseconds since the Unix epoch, as libpcap reports packet times.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// From seconds and microseconds, as in a pcap record header.
    pub fn from_sec_usec(sec: u64, usec: u64) -> Self {
        Timestamp(sec.saturating_mul(1_000_000).saturating_add(usec))
    }

    /// From whole seconds.
    pub fn from_secs(sec: u64) -> Self {
        Timestamp(sec.saturating_mul(1_000_000))
    }

    /// Whole seconds.
    pub fn secs(self) -> u64 {
        self.0 / 1_000_000
    }

    /// The sub-second part in microseconds.
    pub fn subsec_micros(self) -> u32 {
        (self.0 % 1_000_000) as u32
    }

    /// `self - earlier` in microseconds, 0 if `earlier` is later.
    pub fn micros_since(self, earlier: Timestamp) -> u64 {
        self.0.saturating_sub(earlier.0)
    }

    /// `self + secs` seconds.
    pub fn add_secs(self, secs: u64) -> Self {
        Timestamp(self.0.saturating_add(secs.saturating_mul(1_000_000)))
    }
}
