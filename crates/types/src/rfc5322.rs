//! RFC 5322 header values every role writes: dates (from seconds since the epoch, in UTC,
//! without a clock or a time zone database) and new Message-IDs.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

/// `Tue, 03 Mar 2026 10:15:02 +0000` for `secs` seconds since 1970-01-01T00:00:00Z.
pub fn rfc5322_date(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days as i64);
    const WD: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MON: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
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
