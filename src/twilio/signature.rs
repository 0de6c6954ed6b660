//! Verifies `X-Twilio-Signature`: base64(HMAC-SHA1(auth token, URL + every POST
//! parameter's name and value, sorted by name, then value)). Twilio signs the URL it was
//! given, so the URL is rebuilt from `SWITCHBOARD_PUBLIC_URL`, not the socket address;
//! like Twilio's own validators we also accept it with the default port added or
//! removed. JSON bodies are signed through a `bodySHA256` query parameter instead.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};

type HmacSha1 = Hmac<Sha1>;

/// The signature Twilio sends for `url` and form `params`.
pub fn sign(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    STANDARD.encode(mac(auth_token, url, params).finalize().into_bytes())
}

/// True when `signature` is Twilio's for this request (compared in constant time).
pub fn is_valid(auth_token: &str, url: &str, params: &[(String, String)], signature: &str) -> bool {
    let Ok(presented) = STANDARD.decode(signature.trim()) else {
        return false;
    };
    let signs = |candidate: &str| {
        mac(auth_token, candidate, params)
            .verify_slice(&presented)
            .is_ok()
    };
    // The URL as given first: the port variants take a parse, worth it only when that
    // fails.
    signs(url) || port_variants(url).iter().any(|variant| signs(variant))
}

/// For a JSON body: the URL carries `bodySHA256=<hex sha256 of the body>` and is
/// signed alone.
pub fn is_valid_json(auth_token: &str, url: &str, body: &[u8], signature: &str) -> bool {
    let Ok(parsed) = url::Url::parse(url) else {
        return false;
    };
    let expected = hex::encode(Sha256::digest(body));
    let hash_matches = parsed
        .query_pairs()
        .any(|(name, value)| name == "bodySHA256" && value.as_bytes() == expected.as_bytes());
    hash_matches && is_valid(auth_token, url, &[], signature)
}

fn mac(auth_token: &str, url: &str, params: &[(String, String)]) -> HmacSha1 {
    let mut mac = <HmacSha1 as Mac>::new_from_slice(auth_token.as_bytes())
        .expect("HMAC takes any key length");
    mac.update(url.as_bytes());
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    sorted.dedup();
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    mac
}

/// The URL with its port removed, and with the scheme's default port added (where that
/// differs from the URL as given).
fn port_variants(url: &str) -> Vec<String> {
    let mut variants = Vec::new();
    if let Ok(parsed) = url::Url::parse(url) {
        let authority_start = parsed.scheme().len() + 3;
        let host = parsed.host_str().unwrap_or_default();
        let rest_start = url[authority_start..]
            .find('/')
            .map_or(url.len(), |i| authority_start + i);
        let prefix = &url[..authority_start];
        let userinfo = url[authority_start..rest_start]
            .rsplit_once('@')
            .map_or("", |(user, _)| user);
        let userinfo = if userinfo.is_empty() {
            String::new()
        } else {
            format!("{userinfo}@")
        };
        let rest = &url[rest_start..];
        variants.push(format!("{prefix}{userinfo}{host}{rest}"));
        if let Some(port) = parsed.port_or_known_default() {
            variants.push(format!("{prefix}{userinfo}{host}:{port}{rest}"));
        }
    }
    variants.retain(|variant| variant != url);
    variants.dedup();
    variants
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Twilio's published example (and the official library's unit test).
    fn published() -> Vec<(String, String)> {
        pairs(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+14158675309"),
            ("Digits", "1234"),
            ("From", "+14158675309"),
            ("To", "+18005551212"),
        ])
    }

    #[test]
    fn twilios_published_example_passes() {
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        assert_eq!(
            sign("12345", url, &published()),
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        );
        assert!(is_valid(
            "12345",
            url,
            &published(),
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        ));
    }

    #[test]
    fn the_default_port_may_be_added_or_removed() {
        let signature = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";
        assert!(is_valid(
            "12345",
            "https://mycompany.com:443/myapp.php?foo=1&bar=2",
            &published(),
            signature
        ));
        let signed_with_port = sign(
            "12345",
            "https://mycompany.com:443/myapp.php?foo=1&bar=2",
            &published(),
        );
        assert!(is_valid(
            "12345",
            "https://mycompany.com/myapp.php?foo=1&bar=2",
            &published(),
            &signed_with_port
        ));
        let custom_port = sign(
            "12345",
            "http://127.0.0.1:8080/webhooks/twilio/status",
            &published(),
        );
        assert!(is_valid(
            "12345",
            "http://127.0.0.1:8080/webhooks/twilio/status",
            &published(),
            &custom_port
        ));
        assert!(!is_valid(
            "12345",
            "http://127.0.0.1:9090/webhooks/twilio/status",
            &published(),
            &custom_port
        ));
    }

    #[test]
    fn repeated_parameters_are_sorted_and_deduplicated() {
        // From the official library's tests.
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        let params = pairs(&[
            ("Sid", "CA123"),
            ("SidAccount", "AC123"),
            ("Digits", "5678"),
            ("Digits", "1234"),
            ("Digits", "1234"),
        ]);
        assert_eq!(sign("12345", url, &params), "IK+Dwps556ElfBT0I3Rgjkr1wJU=");
    }

    #[test]
    fn tampering_or_the_wrong_token_fails() {
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        let signature = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";
        let mut tampered = published();
        tampered[2].1 = "9999".into();
        assert!(!is_valid("12345", url, &tampered, signature));
        assert!(!is_valid("54321", url, &published(), signature));
        assert!(!is_valid(
            "12345",
            "https://mycompany.com/myapp.php?foo=1&bar=3",
            &published(),
            signature
        ));
        assert!(!is_valid("12345", url, &published(), "not base64!"));
        assert!(!is_valid("12345", url, &published(), ""));
    }

    #[test]
    fn json_bodies_are_signed_through_body_sha256() {
        // From the official library's tests.
        let body = br#"{"property": "value", "boolean": true}"#;
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2&bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";
        assert!(is_valid_json(
            "12345",
            url,
            body,
            "a9nBmqA0ju/hNViExpshrM61xv4="
        ));
        assert!(!is_valid_json(
            "12345",
            url,
            b"{}",
            "a9nBmqA0ju/hNViExpshrM61xv4="
        ));
    }
}
