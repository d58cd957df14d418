//! Error policy.
//!
//! - The store returns `StoreError`; value types return `InvalidValue`.
//! - Nothing below the web layer writes prose for people: a refused value carries a typed
//!   `domain::Reason`, a refused change a typed `Conflict` (below). Each has a locale key and
//!   typed parameters; `web::errors` renders them in Swedish or English, with the field's label
//!   (`field.<name>`). Their `Display` is English, for logs and the CLI only.
//! - Domain use cases (accounts, tickets, tenants) return `Error` below: a small set of outcomes a
//!   caller can act on. Unexpected failures are `Error::Internal`, logged once at the HTTP edge.
//! - `web::errors` is the one place that maps `Error` to HTTP status, a stable machine code and a
//!   user-facing message (Swedish by default, from the locale files in templates/locales).
//! - The CLI and background workers use `anyhow` on top.

use crate::domain::{InvalidValue, Param};
pub use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The thing does not exist *for this actor* — also used when it exists but is out of reach, so
    /// that nobody can probe another tenant's or queue's tickets.
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error(transparent)]
    Invalid(#[from] InvalidValue),
    #[error("conflict: {0}")]
    Conflict(Conflict),
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
            StoreError::Conflict(m) => {
                tracing::debug!(detail = %m, "unique violation");
                Error::Conflict(Conflict::Duplicate)
            }
            StoreError::Changed => Error::Conflict(Conflict::ArticleChanged),
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

/// Why a change cannot be made as things stand (HTTP 409). Each has a locale key
/// (`conflict.<name>`, templates/locales/*/errors.json) and typed parameters (names and numbers
/// from the data, never prose). `Display` is English, for logs and the CLI only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Conflict {
    /// The ticket is already merged into another.
    #[error("{ticket} is already merged")]
    AlreadyMerged { ticket: String },
    /// The target ticket was itself merged into another (merging would make a loop or a chain).
    #[error("{ticket} was itself merged into another ticket")]
    MergeLoop { ticket: String },
    #[error("tenant {slug} already exists")]
    TenantExists { slug: String },
    #[error("queue {slug} already exists")]
    QueueExists { slug: String },
    #[error("a user {email} already exists")]
    UserExists { email: String },
    #[error("{user} is already a member of {queue}")]
    AlreadyMember { user: String, queue: String },
    #[error("a mailbox {address} already exists")]
    MailboxExists { address: String },
    #[error("an article with the address {slug:?} exists")]
    ArticleExists { slug: String },
    /// Someone else saved the article in between.
    #[error("the article was changed by someone else")]
    ArticleChanged,
    /// A reply needs the contact's e-mail address.
    #[error("the ticket has no contact e-mail address to reply to")]
    NoContactEmail,
    #[error("the account is deactivated")]
    AccountDeactivated,
    /// Referral handlers sign in on the web and have no API tokens.
    #[error("referral handlers sign in on the web; they have no API tokens")]
    HandlerNoTokens,
    /// Only an administrator's token can carry the admin scope.
    #[error("only an administrator's token can carry the admin scope")]
    AdminScope,
    #[error("a calendar with that name exists")]
    CalendarExists,
    /// The default calendar cannot be deleted.
    #[error("the default calendar cannot be deleted")]
    DefaultCalendar,
    /// A queue works by this calendar.
    #[error("a queue works by this calendar")]
    CalendarInUse,
    #[error("the referral is already answered")]
    ReferralAnswered,
    #[error("a target named {name:?} exists")]
    TargetExists { name: String },
    /// Another worker took over the mailbox (IMAP lease).
    #[error("lease lost")]
    LeaseLost,
    /// A canned response cannot be filled in for this ticket.
    #[error("the canned response cannot be filled in")]
    CannedFill,
    /// The store refused a second record with the same unique key.
    #[error("a record with the same unique key exists")]
    Duplicate,
}

impl Conflict {
    /// Machine name (API `reason`); the locale key is `conflict.<name>`.
    pub fn name(&self) -> &'static str {
        match self {
            Conflict::AlreadyMerged { .. } => "already_merged",
            Conflict::MergeLoop { .. } => "merge_loop",
            Conflict::TenantExists { .. } => "tenant_exists",
            Conflict::QueueExists { .. } => "queue_exists",
            Conflict::UserExists { .. } => "user_exists",
            Conflict::AlreadyMember { .. } => "already_member",
            Conflict::MailboxExists { .. } => "mailbox_exists",
            Conflict::ArticleExists { .. } => "article_exists",
            Conflict::ArticleChanged => "article_changed",
            Conflict::NoContactEmail => "no_contact_email",
            Conflict::AccountDeactivated => "account_deactivated",
            Conflict::HandlerNoTokens => "handler_no_tokens",
            Conflict::AdminScope => "admin_scope",
            Conflict::CalendarExists => "calendar_exists",
            Conflict::DefaultCalendar => "default_calendar",
            Conflict::CalendarInUse => "calendar_in_use",
            Conflict::ReferralAnswered => "referral_answered",
            Conflict::TargetExists { .. } => "target_exists",
            Conflict::LeaseLost => "lease_lost",
            Conflict::CannedFill => "canned_fill",
            Conflict::Duplicate => "duplicate",
        }
    }

    pub fn key(&self) -> String {
        format!("conflict.{}", self.name())
    }

    /// The typed parameters, by the name they have in the locale text.
    pub fn params(&self) -> Vec<(&'static str, Param)> {
        let s = |k, v: &String| (k, Param::Text(v.clone()));
        match self {
            Conflict::AlreadyMerged { ticket } | Conflict::MergeLoop { ticket } => {
                vec![s("ticket", ticket)]
            }
            Conflict::TenantExists { slug }
            | Conflict::QueueExists { slug }
            | Conflict::ArticleExists { slug } => vec![s("slug", slug)],
            Conflict::UserExists { email } => vec![s("email", email)],
            Conflict::AlreadyMember { user, queue } => vec![s("user", user), s("queue", queue)],
            Conflict::MailboxExists { address } => vec![s("address", address)],
            Conflict::TargetExists { name } => vec![s("name", name)],
            Conflict::ArticleChanged
            | Conflict::NoContactEmail
            | Conflict::AccountDeactivated
            | Conflict::HandlerNoTokens
            | Conflict::AdminScope
            | Conflict::CalendarExists
            | Conflict::DefaultCalendar
            | Conflict::CalendarInUse
            | Conflict::ReferralAnswered
            | Conflict::LeaseLost
            | Conflict::CannedFill
            | Conflict::Duplicate => vec![],
        }
    }

    /// One example of every variant, for tests that walk them all.
    pub fn examples() -> Vec<Conflict> {
        let v = || "xyz".to_string();
        vec![
            Conflict::AlreadyMerged { ticket: v() },
            Conflict::MergeLoop { ticket: v() },
            Conflict::TenantExists { slug: v() },
            Conflict::QueueExists { slug: v() },
            Conflict::UserExists { email: v() },
            Conflict::AlreadyMember {
                user: v(),
                queue: v(),
            },
            Conflict::MailboxExists { address: v() },
            Conflict::ArticleExists { slug: v() },
            Conflict::ArticleChanged,
            Conflict::NoContactEmail,
            Conflict::AccountDeactivated,
            Conflict::HandlerNoTokens,
            Conflict::AdminScope,
            Conflict::CalendarExists,
            Conflict::DefaultCalendar,
            Conflict::CalendarInUse,
            Conflict::ReferralAnswered,
            Conflict::TargetExists { name: v() },
            Conflict::LeaseLost,
            Conflict::CannedFill,
            Conflict::Duplicate,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflict_examples_cover_every_variant() {
        let names: std::collections::BTreeSet<_> =
            Conflict::examples().iter().map(Conflict::name).collect();
        let src = include_str!("error.rs");
        let arms = src
            .split("pub fn name(&self) -> &'static str {")
            .nth(1)
            .and_then(|s| s.split("pub fn key(&self)").next())
            .expect("name fn")
            .matches("=> \"")
            .count();
        assert_eq!(names.len(), arms, "an example per Conflict variant");
    }
}
