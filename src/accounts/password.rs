//! Password hashing with Argon2id (OWASP parameters, the crate's defaults).

use std::sync::OnceLock;

use argon2::password_hash::phc::PasswordHash;
use argon2::{Argon2, PasswordHasher, PasswordVerifier};

use crate::domain::InvalidValue;

pub const MIN_LEN: usize = 10;
pub const MAX_LEN: usize = 256;

/// A password that meets the policy. Its `Debug` never shows it.
pub struct NewPassword(String);

impl NewPassword {
    pub fn parse(s: &str) -> Result<NewPassword, InvalidValue> {
        let n = s.chars().count();
        if n < MIN_LEN {
            return Err(InvalidValue::new(
                "password",
                format!("at least {MIN_LEN} characters"),
            ));
        }
        if n > MAX_LEN {
            return Err(InvalidValue::new(
                "password",
                format!("at most {MAX_LEN} characters"),
            ));
        }
        if s.trim().is_empty() {
            return Err(InvalidValue::new("password", "only spaces"));
        }
        Ok(NewPassword(s.to_string()))
    }

    /// A random password for new accounts (16 characters, no look-alikes).
    pub fn generate() -> NewPassword {
        const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
        use rand::Rng;
        let mut rng = rand::rng();
        let s: String = (0..16)
            .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
            .collect();
        NewPassword(s)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> String {
        hash(&self.0)
    }
}

impl std::fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewPassword([redacted])")
    }
}

fn hash(password: &str) -> String {
    Argon2::default()
        .hash_password(password.as_bytes())
        .expect("argon2 with default parameters cannot fail")
        .to_string()
}

/// Constant work whether or not the account exists: unknown accounts verify against a dummy hash.
pub fn verify(password: &str, stored: Option<&str>) -> bool {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash("not-a-real-password-placeholder"));
    let (hash_text, real) = match stored {
        Some(h) => (h, true),
        None => (dummy.as_str(), false),
    };
    let Ok(parsed) = PasswordHash::new(hash_text) else {
        return false;
    };
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
        && real
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() {
        let p = NewPassword::parse("korrekt häst batteri").unwrap();
        let h = p.hash();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("korrekt häst batteri", Some(&h)));
        assert!(!verify("fel lösenord!", Some(&h)));
        assert!(!verify("korrekt häst batteri", None));
    }

    #[test]
    fn policy() {
        assert!(NewPassword::parse("kort").is_err());
        assert!(NewPassword::parse("          ").is_err());
        assert_eq!(NewPassword::generate().expose().len(), 16);
        assert_eq!(
            format!("{:?}", NewPassword::generate()),
            "NewPassword([redacted])"
        );
    }
}
