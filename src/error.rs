//! Error policy.
//!
//! - The store returns `StoreError`; value types return `InvalidValue`.
//! - Domain use cases (accounts, tickets, tenants) return `Error` below: a small set of outcomes a
//!   caller can act on. Unexpected failures are `Error::Internal`, logged once at the HTTP edge.
//! - `web::errors` is the one place that maps `Error` to HTTP status, a stable machine code and a
//!   user-facing message (Swedish by default, from the locale files in templates/locales).
//! - The CLI and background workers use `anyhow` on top.

use crate::domain::InvalidValue;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The thing does not exist *for this actor* — also used when it exists but is out of reach, so
    /// that nobody can probe another tenant's or queue's tickets.
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error(transparent)]
    Invalid(#[from] InvalidValue),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("not signed in or the session has ended")]
    Unauthenticated,
    #[error("wrong e-mail address or password")]
    BadCredentials,
    #[error("too many failed logins; retry in {retry_after_secs} s")]
    Throttled { retry_after_secs: i64 },
    /// Too many password checks at once (the bounded hashing pool is full); retry shortly.
    #[error("busy; retry in {retry_after_secs} s")]
    Busy { retry_after_secs: i64 },
    #[error("not allowed: {0}")]
    Forbidden(&'static str),
    #[error("internal error: {0}")]
    Internal(String),
    /// An address a tenant set leads where the installation's egress policy does not allow.
    #[error(transparent)]
    Egress(#[from] crate::egress::Refused),
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Error::NotFound("record"),
            StoreError::Conflict(m) => Error::Conflict(m),
            other => Error::Internal(other.to_string()),
        }
    }
}

impl From<diesel::result::Error> for Error {
    fn from(e: diesel::result::Error) -> Self {
        StoreError::from(e).into()
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
