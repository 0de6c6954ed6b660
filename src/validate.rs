//! Checks and normalisation of user input, each failing with a 422 that names the field.

use std::sync::LazyLock;

use phonenumber::country;
use phonenumber::Mode;
use serde::{Deserialize, Deserializer};

use crate::cache::{self, Cache};
use crate::error::AppError;

/// Longest free-text value (names, labels, external references) we store.
const MAX_TEXT_LEN: usize = 200;

/// Parses a phone number written in any common way ("(555) 010-2030", "+44 20 7946 0958")
/// and returns it in E.164. Numbers without a country code are read in `region`.
pub fn phone_number(raw: &str, region: country::Id, field: &str) -> Result<String, AppError> {
    let invalid = || {
        AppError::invalid(
            field,
            format!("{raw:?} is not a valid phone number; write it in international form, e.g. +14155550123"),
        )
    };
    let number = phonenumber::parse(Some(region), raw.trim()).map_err(|_| invalid())?;
    if !phonenumber::is_valid(&number) {
        return Err(invalid());
    }
    Ok(number.format().mode(Mode::E164).to_string())
}

/// Loads the phone-number metadata now: the first number parsed would otherwise pay for it
/// (measured: the first contact created after a start took 100 ms instead of 12).
pub fn warm_up() {
    let _ = phonenumber::parse(None, "+14155550100");
}

/// An E.164 number as people of `region` write it ("(415) 555-0111"), in international
/// form for other countries; anything unparseable is returned as it is. Every message
/// shown needs this, and parsing with `phonenumber` costs ~10 µs (a twentieth of a send's
/// CPU), so answers are remembered.
pub fn display_phone(e164: &str, region: country::Id) -> String {
    static SHOWN: LazyLock<Cache<(String, country::Id), String>> =
        LazyLock::new(|| cache::bounded(100_000, None));
    let key = (e164.to_string(), region);
    if let Some(shown) = SHOWN.get(&key) {
        return shown;
    }
    let shown = format_phone(e164, region);
    SHOWN.insert(key, shown.clone());
    shown
}

fn format_phone(e164: &str, region: country::Id) -> String {
    match phonenumber::parse(None, e164) {
        Ok(number) if number.country().id() == Some(region) => {
            number.format().mode(Mode::National).to_string()
        }
        Ok(number) => number.format().mode(Mode::International).to_string(),
        Err(_) => e164.to_string(),
    }
}

/// Checks an email address (RFC 5322 addr-spec) and returns it trimmed.
pub fn email(raw: &str, field: &str) -> Result<String, AppError> {
    let trimmed = raw.trim();
    if trimmed.len() > 254 || !email_address::EmailAddress::is_valid(trimmed) {
        return Err(AppError::invalid(
            field,
            format!("{raw:?} is not a valid email address"),
        ));
    }
    Ok(trimmed.to_string())
}

/// Trimmed text that must not be empty.
pub fn required_text(raw: &str, field: &str) -> Result<String, AppError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(AppError::invalid(
            field,
            format!("`{field}` must not be empty"),
        ));
    }
    bounded(trimmed, field)
}

/// Trimmed text where empty means absent.
pub fn optional_text(raw: Option<&str>, field: &str) -> Result<Option<String>, AppError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => bounded(text, field).map(Some),
    }
}

fn bounded(text: &str, field: &str) -> Result<String, AppError> {
    if text.chars().count() > MAX_TEXT_LEN {
        return Err(AppError::invalid(
            field,
            format!("`{field}` must be at most {MAX_TEXT_LEN} characters"),
        ));
    }
    Ok(text.to_string())
}

/// Twilio SIDs are a two-letter prefix (`AC` account, `PN` number, `MG` messaging
/// service) and 32 hex digits.
pub fn is_twilio_sid(sid: &str, prefix: &str) -> bool {
    sid.len() == 34 && sid.starts_with(prefix) && sid[2..].chars().all(|c| c.is_ascii_hexdigit())
}

/// For PATCH bodies: tells a field that is absent (`None`) from one set to null
/// (`Some(None)`). Use with `#[serde(default, deserialize_with = "validate::patch_field")]`.
pub fn patch_field<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_become_e164() {
        let us = country::Id::US;
        assert_eq!(
            phone_number("(415) 555-0123", us, "p").unwrap(),
            "+14155550123"
        );
        assert_eq!(
            phone_number("+44 20 7946 0958", us, "p").unwrap(),
            "+442079460958"
        );
        assert_eq!(
            phone_number("020 7946 0958", country::Id::GB, "p").unwrap(),
            "+442079460958"
        );
    }

    #[test]
    fn impossible_phone_numbers_are_refused() {
        for raw in ["", "hello", "123", "+1 555", "+999 1234567"] {
            let error = phone_number(raw, country::Id::US, "phone_number").unwrap_err();
            assert!(
                matches!(error, AppError::Invalid { field: Some(ref f), .. } if f == "phone_number"),
                "{raw}"
            );
        }
    }

    #[test]
    fn emails_are_checked_and_trimmed() {
        assert_eq!(email("  ann@example.com ", "e").unwrap(), "ann@example.com");
        assert!(email("ann@", "e").is_err());
        assert!(email("not an email", "e").is_err());
    }

    #[test]
    fn text_is_trimmed_and_bounded() {
        assert_eq!(required_text("  Ann ", "name").unwrap(), "Ann");
        assert!(required_text("   ", "name").is_err());
        assert!(required_text(&"x".repeat(201), "name").is_err());
        assert_eq!(optional_text(Some("  "), "lead_id").unwrap(), None);
    }
}
