//! EVE timestamps: packet time, UTC, microseconds, `+0000`
//! (Suricata's schema accepts `[+-]hhmm` and rejects `Z`).

use fumidai_wire::Timestamp;
use serde::{Serialize, Serializer};

/// A timestamp that serialises as `2026-11-22T10:00:00.123456+0000`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct EveTime(pub Timestamp);

impl EveTime {
    /// The formatted time, on the stack: EVE writes several per record, and
    /// going through `fmt` and a heap string each time showed in profiles.
    pub fn format(self) -> [u8; 31] {
        let secs = self.0.secs().min(253_402_300_799); // 9999-12-31T23:59:59
        let (year, month, day) = civil_from_days((secs / 86_400) as i64);
        let rem = secs % 86_400;
        let mut b = *b"0000-00-00T00:00:00.000000+0000";
        put_digits(&mut b[0..4], year as u64);
        put_digits(&mut b[5..7], u64::from(month));
        put_digits(&mut b[8..10], u64::from(day));
        put_digits(&mut b[11..13], rem / 3600);
        put_digits(&mut b[14..16], rem / 60 % 60);
        put_digits(&mut b[17..19], rem % 60);
        put_digits(&mut b[20..26], u64::from(self.0.subsec_micros()));
        b
    }

    /// Appends the formatted time to `out`.
    pub fn write_to(self, out: &mut String) {
        let b = self.format();
        // Digits and ASCII punctuation only.
        out.push_str(std::str::from_utf8(&b).unwrap_or_default());
    }
}

/// Writes `v` in decimal, zero-padded to exactly `dst.len()` digits.
fn put_digits(dst: &mut [u8], mut v: u64) {
    for d in dst.iter_mut().rev() {
        *d = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

/// (year, month, day) of a day count since 1970-01-01 in the proleptic
/// Gregorian calendar, by 400-year eras of 146,097 days (the civil-from-days
/// method of H. Hinnant's date algorithms).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468; // days since 0000-03-01
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097; // day of era, 0..146096
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // year of era
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of year from March 1st
    let mp = (5 * doy + 2) / 153; // month from March, 0..11
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
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
        let b = self.format();
        s.serialize_str(std::str::from_utf8(&b).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::OffsetDateTime;

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

    proptest::proptest! {
        /// The calendar arithmetic agrees with the time crate's.
        #[test]
        fn agrees_with_the_time_crate(secs in 0u64..253_402_300_800, us in 0u64..1_000_000) {
            let t = EveTime(Timestamp::from_sec_usec(secs, us));
            let dt = OffsetDateTime::from_unix_timestamp(secs as i64).unwrap();
            let want = format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}+0000",
                dt.year(), u8::from(dt.month()), dt.day(), dt.hour(), dt.minute(), dt.second(), us
            );
            proptest::prop_assert_eq!(t.to_string(), want);
        }
    }
}
