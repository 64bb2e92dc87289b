//! EVE timestamps: packet time, UTC, microseconds, `+0000`
//! (Suricata's schema accepts `[+-]hhmm` and rejects `Z`).

use fumidai_wire::Timestamp;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A timestamp that serialises as `2026-11-22T10:00:00.123456+0000`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct EveTime(pub Timestamp);

impl EveTime {
    /// From microseconds since 1970 (what [`EveTime::micros`] gives back).
    pub fn from_micros(us: u64) -> Self {
        EveTime(Timestamp(us))
    }

    pub fn micros(self) -> u64 {
        self.0.0
    }

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

    /// Reads a timestamp as EVE writers write it: `2004-03-02T13:57:50.104219+0000`,
    /// any number of fractional digits (microseconds kept), any `±hhmm` or
    /// `±hh:mm` offset (Suricata writes local time with its offset) or `Z`.
    /// `None` for anything else, or a time before 1970.
    pub fn parse(s: &str) -> Option<EveTime> {
        let b = s.as_bytes();
        if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' {
            return None;
        }
        if b[13] != b':' || b[16] != b':' {
            return None;
        }
        let year = digits(&b[0..4])?;
        let month = digits(&b[5..7])?;
        let day = digits(&b[8..10])?;
        let (hour, min, sec) = (
            digits(&b[11..13])?,
            digits(&b[14..16])?,
            digits(&b[17..19])?,
        );
        if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || min > 59 {
            return None;
        }
        if sec > 60 {
            return None;
        }
        let mut rest = &b[19..];
        let mut micros = 0u64;
        if let [b'.', tail @ ..] = rest {
            let n = tail.iter().take_while(|c| c.is_ascii_digit()).count();
            if n == 0 {
                return None;
            }
            for (i, &c) in tail[..n].iter().enumerate() {
                if i < 6 {
                    micros = micros * 10 + u64::from(c - b'0');
                }
            }
            micros *= 10u64.pow(6u32.saturating_sub(n as u32));
            rest = &tail[n..];
        }
        let offset: i64 = match rest {
            [b'Z'] => 0,
            [sign @ (b'+' | b'-'), h1, h2, m @ ..] => {
                let m: &[u8] = match m {
                    [b':', m1, m2] | [m1, m2] => &[*m1, *m2],
                    _ => return None,
                };
                let (h, m) = (digits(&[*h1, *h2])?, digits(m)?);
                let off = (h * 3600 + m * 60) as i64;
                if *sign == b'-' { -off } else { off }
            }
            _ => return None,
        };
        let days = days_from_civil(year as i64, month as u32, day as u32);
        let secs = days * 86_400 + (hour * 3600 + min * 60 + sec) as i64 - offset;
        let secs = u64::try_from(secs).ok()?;
        Some(EveTime(Timestamp::from_sec_usec(secs, micros)))
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

/// The value of a run of ASCII digits.
fn digits(b: &[u8]) -> Option<u64> {
    b.iter().try_fold(0u64, |v, &c| {
        c.is_ascii_digit().then(|| v * 10 + u64::from(c - b'0'))
    })
}

/// Days since 1970-01-01 of a proleptic Gregorian date: the inverse of
/// [`civil_from_days`], by the same 400-year eras.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((month + 9) % 12); // month from March, 0..11
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
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

impl<'de> Deserialize<'de> for EveTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        EveTime::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format_args!(
                "not an EVE timestamp (2004-03-02T13:57:50.104219+0000): {s:?}"
            ))
        })
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

    #[test]
    fn parses_what_eve_writers_write() {
        let p = |s: &str| EveTime::parse(s).map(|t| t.0.0);
        assert_eq!(
            p("2004-03-02T13:57:50.104219+0000"),
            Some(1_078_235_870_104_219)
        );
        // Suricata in local time, and the ISO forms.
        assert_eq!(
            p("2004-03-02T14:57:50.104219+0100"),
            Some(1_078_235_870_104_219)
        );
        assert_eq!(
            p("2004-03-02T08:27:50.104219-05:30"),
            Some(1_078_235_870_104_219)
        );
        assert_eq!(p("2004-03-02T13:57:50Z"), Some(1_078_235_870_000_000));
        assert_eq!(p("2004-03-02T13:57:50.1+0000"), Some(1_078_235_870_100_000));
        assert_eq!(
            p("2004-03-02T13:57:50.123456789+0000"),
            Some(1_078_235_870_123_456)
        );
        for bad in [
            "",
            "2004-03-02",
            "2004-03-02T13:57:50",
            "2004-13-02T13:57:50+0000",
            "2004-03-02T13:57:50.+0000",
            "2004-03-02T13:57:50+00",
            "1969-12-31T23:59:59+0000",
            "2004-03-02T13:57:50.104219+0000 ",
            "２004-03-02T13:57:50+0000",
        ] {
            assert_eq!(p(bad), None, "{bad:?}");
        }
    }

    proptest::proptest! {
        /// What is written reads back to the same time.
        #[test]
        fn parse_inverts_format(t in 0u64..253_402_300_800_000_000) {
            let t = EveTime(Timestamp(t));
            proptest::prop_assert_eq!(EveTime::parse(&t.to_string()), Some(t));
        }

        /// Any text: no panic.
        #[test]
        fn parse_never_panics(s in "\\PC{0,40}") {
            let _ = EveTime::parse(&s);
        }

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
