//! Time as the domain sees it: milliseconds since the Unix epoch, UTC.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A point in time, milliseconds since the Unix epoch (UTC).
///
/// Serialised as a fixed-width RFC 3339 string (`2026-11-26T15:57:39.123Z`): readable, sorts
/// lexicographically in time order (stores compare leases as strings), and never a 13-digit
/// number that a card-data scan could mistake for a PAN.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Timestamp::parse_rfc3339(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("invalid RFC 3339 time {s:?}")))
    }
}

impl Timestamp {
    pub const fn from_millis(ms: i64) -> Self {
        Timestamp(ms)
    }

    pub const fn millis(self) -> i64 {
        self.0
    }

    /// Whole seconds since the epoch (DynamoDB TTL attributes use this unit).
    pub const fn epoch_seconds(self) -> i64 {
        self.0.div_euclid(1000)
    }

    /// The same instant as a [`SystemTime`] (times before the epoch clamp to the epoch).
    pub fn to_system_time(self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(u64::try_from(self.0).unwrap_or(0))
    }

    /// A [`SystemTime`], truncated to the millisecond (times before the epoch clamp to it).
    pub fn from_system_time(t: SystemTime) -> Self {
        let ms = t
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        Timestamp(i64::try_from(ms).unwrap_or(i64::MAX))
    }

    pub fn plus(self, d: Duration) -> Self {
        Timestamp(
            self.0
                .saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        )
    }

    /// Fixed-width RFC 3339 in UTC with milliseconds, e.g. `2026-11-26T15:57:39.123Z`.
    pub fn to_rfc3339(self) -> String {
        const FORMAT: &[::time::format_description::FormatItem<'static>] = ::time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        );
        let nanos = i128::from(self.0) * 1_000_000;
        ::time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
            .ok()
            .and_then(|t| t.format(FORMAT).ok())
            .unwrap_or_else(|| "1970-01-01T00:00:00.000Z".to_string())
    }

    /// Parse RFC 3339 (as Clarity and Cybersource send it).
    pub fn parse_rfc3339(s: &str) -> Option<Self> {
        let t = ::time::OffsetDateTime::parse(s, &::time::format_description::well_known::Rfc3339)
            .ok()?;
        i64::try_from(t.unix_timestamp_nanos() / 1_000_000)
            .ok()
            .map(Timestamp)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trip_and_seconds() {
        let t = Timestamp::parse_rfc3339("2026-11-26T15:57:39.123Z").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-11-26T15:57:39.123Z");
        assert_eq!(t.epoch_seconds(), t.millis() / 1000);
        assert_eq!(t.plus(Duration::from_secs(2)).millis(), t.millis() + 2000);
        assert!(Timestamp::parse_rfc3339("yesterday").is_none());
        assert_eq!(
            Timestamp::from_millis(0).to_rfc3339(),
            "1970-01-01T00:00:00.000Z"
        );
        let j = serde_json::to_string(&t).unwrap();
        assert_eq!(j, r#""2026-11-26T15:57:39.123Z""#);
        assert_eq!(serde_json::from_str::<Timestamp>(&j).unwrap(), t);
        // Fixed width: string order is time order.
        let a = Timestamp::from_millis(999).to_rfc3339();
        let b = Timestamp::from_millis(1000).to_rfc3339();
        assert!(a < b);
    }
}
