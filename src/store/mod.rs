//! Storage: the only module that talks SQL. Everything in it is scoped by tenant: the diesel schema
//! is private here, and every public function that touches tenant data takes a `TenantId` and filters
//! on it, so code outside cannot write an unscoped query, and code inside starts every query from a
//! `scoped(tenant)` helper.
//!
//! Functions take `&mut Conn` and return `Result<_, StoreError>` so they compose inside one
//! transaction; the caller (a domain use case) decides where the transaction goes (`Db::write`).

/// Run a diesel statement that the multi-backend connection cannot express (upserts) on the
/// concrete connection: the same builder code, compiled once per backend.
macro_rules! per_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            Conn::Sqlite($c) => $body,
            Conn::Pg($c) => $body,
        }
    };
}

mod conn;
pub mod private;
mod schema;

pub mod auth;
pub mod blobs;
pub mod contacts;
pub mod escalation;
pub mod intake;
pub mod kb;
pub mod leases;
pub mod mail;
pub mod mail_problems;
pub mod mailboxes;
pub mod outbox;
pub mod queues;
pub mod routing;
pub mod search;
#[cfg(feature = "bench")]
pub mod seed;
pub mod sla;
pub mod sms;
pub mod stats;
pub mod survey;
pub mod tenants;
pub mod tickets;
pub mod users;
pub mod workspace;

pub use conn::{Backend, Conn, Db};

use chrono::NaiveDateTime;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database configuration: {0}")]
    Config(String),
    #[error("cannot connect to the database: {0}")]
    Connect(String),
    #[error("database pool: {0}")]
    Pool(String),
    #[error("database migration failed: {0}")]
    Migration(String),
    #[error("not found")]
    NotFound,
    #[error("already exists: {0}")]
    Conflict(String),
    /// An optimistic update found the record changed by someone else in between.
    #[error("changed by someone else")]
    Changed,
    #[error("commit failed: {0}")]
    Commit(String),
    #[error("database query failed: {0}")]
    Query(String),
}

impl From<diesel::result::Error> for StoreError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match e {
            Error::NotFound => StoreError::NotFound,
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                StoreError::Conflict(info.message().to_string())
            }
            other => StoreError::Query(other.to_string()),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Database timestamps are UTC without zone; microseconds on both backends.
pub fn now() -> NaiveDateTime {
    let n = chrono::Utc::now().naive_utc();
    n.with_nanosecond_truncated()
}

trait TruncateNanos {
    fn with_nanosecond_truncated(self) -> Self;
}

impl TruncateNanos for NaiveDateTime {
    fn with_nanosecond_truncated(self) -> Self {
        use chrono::Timelike;
        let micros = self.nanosecond() / 1000 * 1000;
        self.with_nanosecond(micros).unwrap_or(self)
    }
}
