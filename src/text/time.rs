//! Times as people in a Swedish municipality read them: stored times are UTC, shown in
//! Europe/Stockholm.

use chrono::NaiveDateTime;

/// A stored (UTC) time as local Swedish time, "2026-03-02 14:05".
pub fn local_time(t: NaiveDateTime) -> String {
    t.and_utc()
        .with_timezone(&chrono_tz::Europe::Stockholm)
        .format("%Y-%m-%d %H:%M")
        .to_string()
}
