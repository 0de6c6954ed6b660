//! Timestamps in JSON, as chrono writes them (RFC 3339 in UTC: "2026-11-22T08:34:12.123456Z"),
//! for the views every send and status report serialises: a new message's, its status
//! events' and its contact's update.
//!
//! chrono's own `Serialize` writes through `Display` into serde_json's `collect_str`,
//! which escapes each piece as it comes: about 2,400 instructions a timestamp, three
//! per send or status report. Formatting into a string first takes a fraction of that.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serializer;

pub fn serialize<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    // The format chrono's `Serialize` uses: as many fractional digits as the value needs.
    serializer.serialize_str(&at.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

pub fn serialize_option<S: Serializer>(
    at: &Option<DateTime<Utc>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => serialize(at, serializer),
        None => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde::Serialize;

    use super::*;

    #[derive(Serialize)]
    struct Ours {
        #[serde(serialize_with = "serialize")]
        at: DateTime<Utc>,
        #[serde(serialize_with = "serialize_option")]
        maybe: Option<DateTime<Utc>>,
    }

    #[derive(Serialize)]
    struct Chronos {
        at: DateTime<Utc>,
        maybe: Option<DateTime<Utc>>,
    }

    #[test]
    fn timestamps_are_written_as_chrono_writes_them() {
        let second = Utc.with_ymd_and_hms(2026, 11, 22, 8, 34, 12).unwrap();
        let nanos = [0, 120_000_000, 123_456_000, 123_456_789, 999_999_999];
        let years = [
            second,
            Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(12_345, 12, 31, 23, 59, 59).unwrap(),
        ];
        for base in years {
            for nano in nanos {
                let at = base + chrono::Duration::nanoseconds(nano);
                for maybe in [None, Some(at)] {
                    assert_eq!(
                        serde_json::to_string(&Ours { at, maybe }).unwrap(),
                        serde_json::to_string(&Chronos { at, maybe }).unwrap(),
                    );
                }
            }
        }
    }
}
