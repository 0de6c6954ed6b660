//! An organisation's quiet hours: a daily window of local time (in an IANA zone) during
//! which scheduled messages that come due wait for the window to end.

use chrono::{DateTime, Days, LocalResult, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::db::organization_settings::OrganizationSettings;
use crate::error::AppError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    pub timezone: Tz,
    /// Local time the window opens; it may close the next day (`21:00`–`08:00`).
    pub start: NaiveTime,
    pub end: NaiveTime,
}

/// Quiet hours as the settings API reads and writes them.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuietHoursJson {
    pub timezone: String,
    pub start: String,
    pub end: String,
}

impl QuietHours {
    pub fn from_settings(settings: &OrganizationSettings) -> Option<QuietHours> {
        let timezone = settings.quiet_hours_timezone.as_deref()?.parse().ok()?;
        Some(QuietHours {
            timezone,
            start: settings.quiet_hours_start?,
            end: settings.quiet_hours_end?,
        })
    }

    /// Checks what a client sent: a known zone, `HH:MM` (or `HH:MM:SS`) times, and a
    /// window that is not empty.
    pub fn parse(json: &QuietHoursJson) -> Result<QuietHours, AppError> {
        let timezone = json.timezone.trim().parse::<Tz>().map_err(|_| {
            AppError::invalid(
                "quiet_hours.timezone",
                format!(
                    "{:?} is not an IANA time zone (such as America/New_York)",
                    json.timezone
                ),
            )
        })?;
        let time = |raw: &str, field: &str| {
            NaiveTime::parse_from_str(raw.trim(), "%H:%M")
                .or_else(|_| NaiveTime::parse_from_str(raw.trim(), "%H:%M:%S"))
                .map_err(|_| {
                    AppError::invalid(field, format!("{raw:?} is not a time of day like 21:00"))
                })
        };
        let start = time(&json.start, "quiet_hours.start")?;
        let end = time(&json.end, "quiet_hours.end")?;
        if start == end {
            return Err(AppError::invalid(
                "quiet_hours.end",
                "quiet hours must end at another time than they start",
            ));
        }
        Ok(QuietHours {
            timezone,
            start,
            end,
        })
    }

    pub fn to_json(self) -> QuietHoursJson {
        let time = |at: NaiveTime| {
            let format = if at.format("%S").to_string() == "00" {
                "%H:%M"
            } else {
                "%H:%M:%S"
            };
            at.format(format).to_string()
        };
        QuietHoursJson {
            timezone: self.timezone.name().to_string(),
            start: time(self.start),
            end: time(self.end),
        }
    }

    /// When the window holding `now` ends; `None` when `now` is outside the window.
    pub fn wait_until(self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = now.with_timezone(&self.timezone);
        let time = local.time();
        let inside = if self.start < self.end {
            self.start <= time && time < self.end
        } else {
            time >= self.start || time < self.end
        };
        if !inside {
            return None;
        }
        let mut day = local.date_naive();
        if time >= self.end {
            day = day.checked_add_days(Days::new(1))?;
        }
        Some(self.instant(day.and_time(self.end)))
    }

    /// The instant of a local time: the earlier of two in a repeated hour, the end of
    /// the gap for a time a clock change skips.
    fn instant(self, local: NaiveDateTime) -> DateTime<Utc> {
        let mut at = local;
        loop {
            match self.timezone.from_local_datetime(&at) {
                LocalResult::Single(found) | LocalResult::Ambiguous(found, _) => {
                    return found.with_timezone(&Utc)
                }
                LocalResult::None => at += chrono::Duration::minutes(1),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(timezone: &str, start: &str, end: &str) -> QuietHours {
        QuietHours::parse(&QuietHoursJson {
            timezone: timezone.into(),
            start: start.into(),
            end: end.into(),
        })
        .unwrap()
    }

    fn utc(at: &str) -> DateTime<Utc> {
        at.parse().unwrap()
    }

    #[test]
    fn an_overnight_window_ends_the_next_morning_local_time() {
        let quiet = window("America/New_York", "21:00", "08:00");
        // 22:30 in New York (EST, UTC-5) on 4 December.
        assert_eq!(
            quiet.wait_until(utc("2026-12-05T03:30:00Z")),
            Some(utc("2026-12-05T13:00:00Z"))
        );
        // 07:59 the next morning: still quiet, same end.
        assert_eq!(
            quiet.wait_until(utc("2026-12-05T12:59:00Z")),
            Some(utc("2026-12-05T13:00:00Z"))
        );
        assert_eq!(quiet.wait_until(utc("2026-12-05T13:00:00Z")), None);
        assert_eq!(quiet.wait_until(utc("2026-12-05T20:00:00Z")), None);
    }

    #[test]
    fn a_daytime_window_and_seconds() {
        let quiet = window("Europe/Berlin", "12:00", "12:30:15");
        assert_eq!(quiet.to_json().end, "12:30:15");
        assert_eq!(quiet.to_json().start, "12:00");
        assert_eq!(
            quiet.wait_until(utc("2026-12-04T11:10:00Z")),
            Some(utc("2026-12-04T11:30:15Z"))
        );
        assert_eq!(quiet.wait_until(utc("2026-12-04T10:59:59Z")), None);
    }

    #[test]
    fn an_end_the_clock_skips_is_the_end_of_the_gap() {
        // 8 March 2026: New York's clocks go from 02:00 to 03:00.
        let quiet = window("America/New_York", "01:00", "02:30");
        assert_eq!(
            quiet.wait_until(utc("2026-03-08T06:30:00Z")),
            Some(utc("2026-03-08T07:00:00Z"))
        );
    }

    #[test]
    fn bad_windows_name_the_field() {
        let bad = |timezone: &str, start: &str, end: &str, field: &str| {
            let error = QuietHours::parse(&QuietHoursJson {
                timezone: timezone.into(),
                start: start.into(),
                end: end.into(),
            })
            .unwrap_err();
            assert!(
                matches!(&error, AppError::Invalid { field: Some(f), .. } if f == field),
                "{error:?}"
            );
        };
        bad("Mars/Olympus", "21:00", "08:00", "quiet_hours.timezone");
        bad("UTC", "9pm", "08:00", "quiet_hours.start");
        bad("UTC", "21:00", "25:00", "quiet_hours.end");
        bad("UTC", "08:00", "08:00", "quiet_hours.end");
    }
}
