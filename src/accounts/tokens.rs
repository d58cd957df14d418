//! Signed tokens: browser sessions and API tokens are both HS256 JWTs, and both name a database
//! row (session / api_tokens) that is checked on every request, so they can be revoked.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::secrets::Keys;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    Session,
    Api,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// User id.
    pub sub: i64,
    /// Tenant id.
    pub tid: i64,
    /// Session or API token id (the database row).
    pub jti: String,
    pub typ: TokenKind,
    pub iat: i64,
    pub exp: i64,
    /// API scopes; sessions have all scopes of the user.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scp: Vec<String>,
}

#[derive(Clone)]
pub struct Signer {
    enc: EncodingKey,
    dec: DecodingKey,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer([redacted])")
    }
}

impl Signer {
    pub fn new(keys: &Keys) -> Signer {
        let k = keys.jwt_key();
        Signer {
            enc: EncodingKey::from_secret(&k),
            dec: DecodingKey::from_secret(&k),
        }
    }

    pub fn sign(&self, claims: &Claims) -> String {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.enc)
            .expect("HS256 signing cannot fail")
    }

    /// Sign other claims (e.g. a citizen's status link); they must carry `exp`.
    pub fn sign_claims<T: Serialize>(&self, claims: &T) -> String {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.enc)
            .expect("HS256 signing cannot fail")
    }

    /// Signature, algorithm and expiry of other claims checked, and their shape: a session or
    /// API token does not decode as a status link, nor the other way round.
    pub fn verify_claims<T: serde::de::DeserializeOwned>(&self, token: &str) -> Option<T> {
        let mut v = Validation::new(Algorithm::HS256);
        v.leeway = 5;
        v.set_required_spec_claims(&["exp"]);
        jsonwebtoken::decode::<T>(token, &self.dec, &v)
            .ok()
            .map(|d| d.claims)
    }

    /// Signature, algorithm, expiry and kind checked; None for anything else.
    pub fn verify(&self, token: &str, kind: TokenKind) -> Option<Claims> {
        let mut v = Validation::new(Algorithm::HS256);
        v.leeway = 5;
        v.set_required_spec_claims(&["exp"]);
        let data = jsonwebtoken::decode::<Claims>(token, &self.dec, &v).ok()?;
        (data.claims.typ == kind).then_some(data.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_only_with_the_right_key_and_kind() {
        let k = Keys::from_hex(&"11".repeat(32)).unwrap();
        let s = Signer::new(&k);
        let now = chrono::Utc::now().timestamp();
        let c = Claims {
            sub: 1,
            tid: 2,
            jti: crate::secrets::new_id(),
            typ: TokenKind::Session,
            iat: now,
            exp: now + 60,
            scp: vec![],
        };
        let t = s.sign(&c);
        assert_eq!(s.verify(&t, TokenKind::Session).unwrap().tid, 2);
        assert!(s.verify(&t, TokenKind::Api).is_none());
        let other = Signer::new(&Keys::from_hex(&"22".repeat(32)).unwrap());
        assert!(other.verify(&t, TokenKind::Session).is_none());
        let expired = s.sign(&Claims { exp: now - 60, ..c });
        assert!(s.verify(&expired, TokenKind::Session).is_none());
    }
}
