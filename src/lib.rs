//! Ärendo — a contact-center ticketing system for Swedish municipalities.
//!
//! Layout (see docs/architecture.md): channels and the web edge call the domain
//! (`accounts`, `tenants`, `tickets`), the domain calls the `store`, and side effects leave
//! through the `outbox` (e.g. `mail`). `domain` holds the value types everything shares.

pub mod accounts;
pub mod app;
/// Benchmarks (`arendo-bench`): only with `--features bench`, never in the product binary (D60).
#[cfg(feature = "bench")]
pub mod bench;
pub mod citizen;
pub mod cli;
pub mod config;
pub mod delivery;
pub mod demo;
pub mod domain;
pub mod egress;
pub mod error;
pub mod escalation;
pub mod kb;
pub mod mail;
pub mod notify;
pub mod outbox;
pub mod referral;
pub mod routing;
pub mod search;
pub mod secrets;
pub mod sla;
pub mod stats;
pub mod store;
pub mod survey;
pub mod telemetry;
pub mod tenants;
pub mod text;
pub mod tickets;
pub mod tls;
pub mod web;

/// The database handle every use case takes, and the attachment store (files by content hash).
pub use store::{Db, blobs::BlobStore};
