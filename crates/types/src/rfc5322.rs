//! RFC 5322 header values every role writes: dates (from seconds since the epoch, in UTC,
//! without a clock or a time zone database) and new Message-IDs.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

/// Day names from 1970-01-01 (a Thursday) on, and month names, as RFC 5322 writes them.
const WD: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MON: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `Tue, 03 Mar 2026 10:15:02 +0000` for `secs` seconds since 1970-01-01T00:00:00Z.
pub fn rfc5322_date(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days as i64);
    // Built by hand: this runs for every message received (its Received header).
    let two = |out: &mut String, n: u64| {
        out.push(char::from(b'0' + (n / 10 % 10) as u8));
        out.push(char::from(b'0' + (n % 10) as u8));
    };
    let mut out = String::with_capacity(32);
    out.push_str(WD[(days % 7) as usize]);
    out.push_str(", ");
    two(&mut out, u64::from(d));
    out.push(' ');
    out.push_str(MON[(m - 1) as usize]);
    out.push(' ');
    out.push_str(&y.to_string());
    out.push(' ');
    two(&mut out, rem / 3600);
    out.push(':');
    two(&mut out, rem % 3600 / 60);
    out.push(':');
    two(&mut out, rem % 60);
    out.push_str(" +0000");
    out
}

/// Distinguishes Message-IDs made in the same second by one process.
static SEQUENCE: AtomicU64 = AtomicU64::new(0);

/// A new Message-ID, `<time.sequence.random@hostname>`: the random part differs per process
/// (std's randomly seeded hasher), the sequence per call.
pub fn new_message_id(secs: u64, hostname: &str) -> String {
    let n = SEQUENCE.fetch_add(1, Ordering::Relaxed);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(n);
    h.write_u64(secs);
    format!("<{secs}.{n}.{:016x}@{hostname}>", h.finish())
}

/// Days since the epoch to (year, month 1-12, day 1-31), proleptic Gregorian calendar
/// (the well-known era-based algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(rfc5322_date(0), "Thu, 01 Jan 1970 00:00:00 +0000");
        assert_eq!(
            rfc5322_date(1_772_532_902),
            "Tue, 03 Mar 2026 10:15:02 +0000"
        );
        assert_eq!(rfc5322_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 +0000");
        assert_eq!(
            rfc5322_date(1_798_761_599),
            "Thu, 31 Dec 2026 23:59:59 +0000"
        );
        assert_eq!(
            rfc5322_date(1_795_838_707),
            "Sat, 28 Nov 2026 04:05:07 +0000"
        );
    }

    /// The date as `format!` wrote it before.
    fn date_reference(secs: u64) -> String {
        let days = secs / 86_400;
        let rem = secs % 86_400;
        let (y, m, d) = civil_from_days(days as i64);
        format!(
            "{}, {:02} {} {} {:02}:{:02}:{:02} +0000",
            WD[(days % 7) as usize],
            d,
            MON[(m - 1) as usize],
            y,
            rem / 3600,
            rem % 3600 / 60,
            rem % 60
        )
    }

    #[test]
    fn dates_are_written_as_before() {
        // Every 25,013 seconds of 1970-2100 (every hour of the day, every weekday), then odd
        // seconds across a wide range.
        for secs in (0..4_102_444_800u64)
            .step_by(3_600)
            .chain((0..20_000u64).map(|i| i * 7_919_237 + 13))
        {
            assert_eq!(rfc5322_date(secs), date_reference(secs), "{secs}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_time_is_written_as_before(secs in 0u64..=(i64::MAX as u64)) {
            proptest::prop_assert_eq!(rfc5322_date(secs), date_reference(secs));
        }
    }

    #[test]
    fn message_ids_are_unique_and_bracketed() {
        let a = new_message_id(1, "mx.example.test");
        let b = new_message_id(1, "mx.example.test");
        assert_ne!(a, b);
        assert!(
            a.starts_with("<1.") && a.ends_with("@mx.example.test>"),
            "{a}"
        );
    }
}
