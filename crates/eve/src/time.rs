//! EVE timestamps: packet time, UTC, microseconds, `+0000`
//! (Suricata's schema accepts `[+-]hhmm` and rejects `Z`).

use std::fmt::Write;

use fumidai_wire::Timestamp;
use serde::{Serialize, Serializer};
use time::OffsetDateTime;

/// A timestamp that serialises as `2026-11-22T10:00:00.123456+0000`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct EveTime(pub Timestamp);

impl EveTime {
    /// Appends the formatted time to `out`.
    pub fn write_to(self, out: &mut String) {
        let secs = self.0.secs().min(253_402_300_799); // 9999-12-31T23:59:59
        // In range by the clamp above, so this cannot fail; fall back to the
        // epoch rather than panic if the time crate ever disagrees.
        let dt =
            OffsetDateTime::from_unix_timestamp(secs as i64).unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let _ = write!(
            out,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}+0000",
            dt.year(),
            u8::from(dt.month()),
            dt.day(),
            dt.hour(),
            dt.minute(),
            dt.second(),
            self.0.subsec_micros()
        );
    }
}

impl std::fmt::Display for EveTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut s = String::with_capacity(31);
        self.write_to(&mut s);
        f.write_str(&s)
    }
}

impl Serialize for EveTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = String::with_capacity(31);
        self.write_to(&mut buf);
        s.serialize_str(&buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_suricata() {
        let t = EveTime(Timestamp::from_sec_usec(1_078_235_870, 104_219));
        assert_eq!(t.to_string(), "2004-03-02T13:57:50.104219+0000");
        assert_eq!(
            EveTime(Timestamp(0)).to_string(),
            "1970-01-01T00:00:00.000000+0000"
        );
        assert_eq!(
            EveTime(Timestamp(u64::MAX)).to_string(),
            "9999-12-31T23:59:59.551615+0000"
        );
    }
}
