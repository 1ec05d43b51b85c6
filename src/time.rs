//! Time as the core sees it: whole microseconds since the simulator started.
//!
//! Lambda reports durations as float milliseconds with microsecond precision, and extension
//! overhead is measured to the microsecond, so one integer type serves for both instants and
//! spans. Nothing here reads a clock: the reactor converts `std::time::Instant` once per turn
//! (see `reactor`), and tests move a virtual clock by hand.

use std::fmt;
use std::ops::{Add, Sub};

/// Microseconds: an instant (since the simulator started) or a span between two of them.
///
/// Arithmetic saturates, so a deadline computed from a huge timeout never wraps and a span
/// between instants given in the wrong order is zero rather than a panic.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Micros(pub u64);

impl Micros {
    /// The start of the simulator's clock, and the empty span.
    pub const ZERO: Micros = Micros(0);
    /// Later than any instant the simulator will see.
    pub const MAX: Micros = Micros(u64::MAX);

    /// A span of whole milliseconds.
    pub const fn from_millis(ms: u64) -> Micros {
        Micros(ms.saturating_mul(1_000))
    }

    /// A span of whole seconds.
    pub const fn from_secs(s: u64) -> Micros {
        Micros(s.saturating_mul(1_000_000))
    }

    /// The value in microseconds.
    pub const fn as_micros(self) -> u64 {
        self.0
    }

    /// Whole milliseconds, rounded down.
    pub const fn as_millis(self) -> u64 {
        self.0 / 1_000
    }

    /// The span from `earlier` to `self`, zero if `earlier` is later.
    pub const fn since(self, earlier: Micros) -> Micros {
        Micros(self.0.saturating_sub(earlier.0))
    }

    /// Converts a `std::time::Duration`, saturating at `Micros::MAX`.
    pub fn from_duration(d: std::time::Duration) -> Micros {
        Micros(u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
    }

    /// Converts to a `std::time::Duration`.
    pub const fn to_duration(self) -> std::time::Duration {
        std::time::Duration::from_micros(self.0)
    }

    /// Milliseconds with two decimals, rounded half up, as the REPORT line prints them
    /// (`12.35` for 12 345 µs... 12 349 µs).
    pub fn display_ms2(self) -> Ms2 {
        Ms2((self.0.saturating_add(5)) / 10)
    }

    /// Milliseconds as a float with microsecond precision, as Telemetry API `durationMs` fields
    /// carry them.
    pub fn as_ms_f64(self) -> f64 {
        self.0 as f64 / 1_000.0
    }
}

impl Add for Micros {
    type Output = Micros;
    fn add(self, rhs: Micros) -> Micros {
        Micros(self.0.saturating_add(rhs.0))
    }
}

impl Sub for Micros {
    type Output = Micros;
    fn sub(self, rhs: Micros) -> Micros {
        Micros(self.0.saturating_sub(rhs.0))
    }
}

impl fmt::Display for Micros {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}µs", self.0)
    }
}

/// A span in hundredths of a millisecond, printed as `12.35`; see [`Micros::display_ms2`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ms2(u64);

impl Ms2 {
    /// The billed duration: whole milliseconds, rounded up from the printed value, at least 1.
    pub fn billed_ms(self) -> u64 {
        self.0.div_ceil(100).max(1)
    }

    /// A REPORT's Billed Duration: its Duration and the Init Duration it shows, as printed,
    /// rounded up together. Lambda bills the init of every on-demand cold start since August
    /// 2025, as it always had for custom runtimes like the ones lambda-sim runs
    /// (<https://aws.amazon.com/blogs/compute/aws-lambda-standardizes-billing-for-init-phase/>).
    #[inline(never)]
    pub fn billed_with_init(duration: Micros, init: Option<Micros>) -> u64 {
        let init = init.map_or(0, |i| i.display_ms2().0);
        Ms2(duration.display_ms2().0 + init).billed_ms()
    }
}

impl fmt::Display for Ms2 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

/// A civil UTC date and time, from Unix epoch microseconds (no time zone database needed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Civil {
    /// Year, e.g. 2026.
    pub year: i64,
    /// Month, 1-12.
    pub month: u32,
    /// Day of month, 1-31.
    pub day: u32,
    /// Hour, 0-23.
    pub hour: u32,
    /// Minute, 0-59.
    pub minute: u32,
    /// Second, 0-59.
    pub second: u32,
    /// Millisecond, 0-999.
    pub milli: u32,
}

impl Civil {
    /// Splits Unix epoch microseconds into a UTC date and time.
    #[inline(never)]
    pub(crate) fn from_epoch_micros(epoch_us: u64) -> Civil {
        let secs = epoch_us / 1_000_000;
        let milli = ((epoch_us / 1_000) % 1_000) as u32;
        let days = (secs / 86_400) as i64;
        let rem = secs % 86_400;
        let (year, month, day) = civil_from_days(days);
        Civil {
            year,
            month,
            day,
            hour: (rem / 3_600) as u32,
            minute: ((rem % 3_600) / 60) as u32,
            second: (rem % 60) as u32,
            milli,
        }
    }

    /// `2026-11-26T17:28:54.123Z`: ISO 8601 UTC with milliseconds, as Lambda timestamps its
    /// events and log lines.
    #[inline(never)]
    pub(crate) fn rfc3339_millis(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            self.year, self.month, self.day, self.hour, self.minute, self.second, self.milli
        )
    }
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar.
/// Howard Hinnant's `civil_from_days` algorithm (public domain, chrono-free).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32; // [1, 31]
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32; // [1, 12]
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        assert_eq!(Micros(5) - Micros(9), Micros::ZERO);
        assert_eq!(Micros::MAX + Micros(1), Micros::MAX);
        assert_eq!(Micros(9).since(Micros(5)), Micros(4));
        assert_eq!(Micros::from_secs(u64::MAX), Micros::MAX);
    }

    #[test]
    fn report_milliseconds_round_half_up_and_bill_the_printed_value() {
        assert_eq!(Micros(12_345).display_ms2().to_string(), "12.35");
        assert_eq!(Micros(12_344).display_ms2().to_string(), "12.34");
        assert_eq!(Micros(3_000_000).display_ms2().to_string(), "3000.00");
        assert_eq!(Micros(7).display_ms2().to_string(), "0.01");
        assert_eq!(Micros(12_001).display_ms2().billed_ms(), 12);
        assert_eq!(Micros(12_005).display_ms2().billed_ms(), 13);
        assert_eq!(Micros(0).display_ms2().billed_ms(), 1);
        // As on Lambda's REPORT for a custom runtime: Duration 1049.63 ms, Init Duration
        // 1293.83 ms, Billed Duration 2344 ms.
        let (duration, init) = (Micros(1_049_630), Micros(1_293_830));
        assert_eq!(Ms2::billed_with_init(duration, Some(init)), 2344);
        assert_eq!(Ms2::billed_with_init(duration, None), 1050);
    }

    #[test]
    fn civil_dates() {
        assert_eq!(
            Civil::from_epoch_micros(0).rfc3339_millis(),
            "1970-01-01T00:00:00.000Z"
        );
        // 2022-10-21T14:05:05.764Z, from a captured Telemetry API event.
        assert_eq!(
            Civil::from_epoch_micros(1_666_361_105_764_000).rfc3339_millis(),
            "2022-10-21T14:05:05.764Z"
        );
        // A leap day.
        assert_eq!(
            Civil::from_epoch_micros(1_709_164_800_000_000).rfc3339_millis(),
            "2024-02-29T00:00:00.000Z"
        );
    }
}
