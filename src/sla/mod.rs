//! Service levels: how long a queue has to answer and resolve a ticket, counted in business
//! time (the queue's opening hours in Europe/Stockholm, Swedish holidays closed), with warnings
//! before and actions on a breach.
//!
//! - `holidays`: Swedish public holidays and eves for any year.
//! - `calendar`: opening hours and business-time arithmetic (`add`, `between`).
//! - `timeline`: a ticket's clocks replayed from its history (pure, deterministic).
//! - `policy`: targets per queue and priority, and the rules for warnings and breaches.
//! - `engine`: stores the clocks when tickets change, and sweeps for what is due.

pub mod admin;
pub mod calendar;
pub mod engine;
pub mod holidays;
pub mod policy;
pub mod timeline;

pub use calendar::{Calendar, DayHours};
pub use holidays::Holiday;
