//! The server's secret key and everything derived from it: encryption of stored
//! credentials, CSRF tokens, plus the random tokens handed to clients and password hashes.

use std::path::Path;

use anyhow::{bail, Context};
use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit};
use chacha20poly1305::XChaCha20Poly1305;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

const KEY_FILE: &str = "secret.key";
const MIN_KEY_LEN: usize = 32;
const NONCE_LEN: usize = 24;

/// Sub-keys derived from the master secret, one per purpose, so that a token signed for
/// one use can never be replayed as another.
#[derive(Clone)]
pub struct SecretKey {
    cipher: XChaCha20Poly1305,
    csrf_key: [u8; 32],
    media_key: [u8; 32],
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

impl SecretKey {
    /// Uses the configured secret, or the one kept in `data_dir`, or makes and keeps a
    /// new one there (readable by the owner only).
    pub fn load_or_create(configured: Option<&str>, data_dir: &Path) -> anyhow::Result<Self> {
        if let Some(secret) = configured {
            return Self::from_secret(secret).context("SWITCHBOARD_SECRET_KEY");
        }
        let path = data_dir.join(KEY_FILE);
        if path.exists() {
            let secret = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            return Self::from_secret(secret.trim()).with_context(|| path.display().to_string());
        }
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("creating data dir {}", data_dir.display()))?;
        let secret = random_token(32);
        write_private(&path, &secret).with_context(|| format!("writing {}", path.display()))?;
        tracing::info!(path = %path.display(), "generated a new secret key");
        Self::from_secret(&secret)
    }

    pub fn from_secret(secret: &str) -> anyhow::Result<Self> {
        if secret.len() < MIN_KEY_LEN {
            bail!("the secret key must be at least {MIN_KEY_LEN} characters long");
        }
        let derive = |purpose: &str| -> [u8; 32] {
            let mut mac = <HmacSha256 as Mac>::new_from_slice(secret.as_bytes())
                .expect("HMAC takes any key length");
            mac.update(purpose.as_bytes());
            mac.finalize().into_bytes().into()
        };
        Ok(SecretKey {
            cipher: XChaCha20Poly1305::new(&derive("switchboard/encryption/v1").into()),
            csrf_key: derive("switchboard/csrf/v1"),
            media_key: derive("switchboard/media/v1"),
        })
    }

    /// Encrypts a stored credential: a random nonce followed by the ciphertext.
    pub fn encrypt(&self, plaintext: &str) -> Vec<u8> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let ciphertext = self
            .cipher
            .encrypt(&nonce, plaintext.as_bytes())
            .expect("XChaCha20Poly1305 encryption cannot fail for in-memory data");
        [nonce.as_slice(), &ciphertext].concat()
    }

    pub fn decrypt(&self, stored: &[u8]) -> anyhow::Result<String> {
        if stored.len() < NONCE_LEN {
            bail!("stored secret is truncated");
        }
        let (nonce, ciphertext) = stored.split_at(NONCE_LEN);
        let plaintext = self.cipher.decrypt(nonce.into(), ciphertext).map_err(|_| {
            anyhow::anyhow!("stored secret does not decrypt with this server's key")
        })?;
        Ok(String::from_utf8(plaintext)?)
    }

    /// The CSRF token that goes with a session token (double-submit: the dashboard reads
    /// it from a cookie and echoes it in `X-CSRF-Token`; another site can do neither).
    pub fn csrf_token(&self, session_token: &str) -> String {
        URL_SAFE_NO_PAD.encode(self.csrf_mac(session_token).finalize().into_bytes())
    }

    pub fn verify_csrf(&self, session_token: &str, presented: &str) -> bool {
        URL_SAFE_NO_PAD
            .decode(presented)
            .is_ok_and(|tag| self.csrf_mac(session_token).verify_slice(&tag).is_ok())
    }

    /// The signature of a local media URL: the key and its expiry.
    pub fn sign_media(&self, key: &str, expires: i64) -> String {
        URL_SAFE_NO_PAD.encode(self.media_mac(key, expires).finalize().into_bytes())
    }

    pub fn verify_media(&self, key: &str, expires: i64, presented: &str) -> bool {
        URL_SAFE_NO_PAD
            .decode(presented)
            .is_ok_and(|tag| self.media_mac(key, expires).verify_slice(&tag).is_ok())
    }

    fn media_mac(&self, key: &str, expires: i64) -> HmacSha256 {
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&self.media_key)
            .expect("HMAC takes any key length");
        mac.update(key.as_bytes());
        mac.update(b"\n");
        mac.update(expires.to_string().as_bytes());
        mac
    }

    fn csrf_mac(&self, session_token: &str) -> HmacSha256 {
        let mut mac =
            <HmacSha256 as Mac>::new_from_slice(&self.csrf_key).expect("HMAC takes any key length");
        mac.update(session_token.as_bytes());
        mac
    }
}

/// A new bearer token for a client: 256 random bits, URL-safe.
pub fn new_token() -> String {
    format!("sb_{}", random_token(32))
}

/// What the database keeps of a token.
pub fn hash_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Argon2id with the crate's recommended parameters. CPU-heavy: call off the async threads.
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| anyhow::anyhow!("hashing password: {error}"))
}

/// CPU-heavy like `hash_password`.
pub fn verify_password(password: &str, stored_hash: &str) -> bool {
    PasswordHash::new(stored_hash).is_ok_and(|hash| {
        Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok()
    })
}

fn random_token(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut buffer);
    URL_SAFE_NO_PAD.encode(buffer)
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(contents.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SecretKey {
        SecretKey::from_secret("0123456789abcdef0123456789abcdef").unwrap()
    }

    #[test]
    fn encrypted_secrets_round_trip_and_differ_each_time() {
        let key = key();
        let first = key.encrypt("auth-token");
        let second = key.encrypt("auth-token");
        assert_ne!(first, second, "a fresh nonce each time");
        assert_eq!(key.decrypt(&first).unwrap(), "auth-token");
    }

    #[test]
    fn another_key_cannot_decrypt() {
        let stored = key().encrypt("auth-token");
        let other = SecretKey::from_secret("another secret that is long enough!!").unwrap();
        assert!(other.decrypt(&stored).is_err());
    }

    #[test]
    fn short_secrets_are_refused() {
        assert!(SecretKey::from_secret("short").is_err());
    }

    #[test]
    fn csrf_token_is_bound_to_its_session() {
        let key = key();
        let csrf = key.csrf_token("session-a");
        assert!(key.verify_csrf("session-a", &csrf));
        assert!(!key.verify_csrf("session-b", &csrf));
        assert!(!key.verify_csrf("session-a", "not-base64!"));
    }

    #[test]
    fn passwords_verify_only_with_the_right_password() {
        let hash = hash_password("correct horse").unwrap();
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong horse", &hash));
        assert!(!verify_password("correct horse", "not a hash"));
    }
}
