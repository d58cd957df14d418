//! Service levels: how long a queue has to answer and resolve a ticket, counted in business
//! time (the queue's opening hours in Europe/Stockholm, Swedish holidays closed), with warnings
//! before and actions on a breach.
//!
//! - `holidays`: Swedish public holidays and eves for any year.
//! - `calendar`: opening hours and business-time arithmetic (`add`, `between`).
//! - `timeline`: a ticket's clocks replayed from its history (pure, deterministic).

pub mod calendar;
pub mod holidays;
pub mod timeline;

pub use calendar::{Calendar, DayHours};
pub use holidays::Holiday;
