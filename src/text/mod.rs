//! Text rendering, shared by every channel and capability: the Handlebars templates and locale
//! texts compiled in from templates/ (`Templates`, `{{t "key"}}`, Swedish first, English second),
//! and how times are written for people (`time`). Nothing here knows about HTTP or the store.

pub mod table;
mod templates;
pub mod time;

pub use templates::*;
