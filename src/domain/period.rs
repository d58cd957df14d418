//! Periods reports are made for: a calendar month in Swedish time.

use chrono::{NaiveDate, TimeZone};
use chrono_tz::Europe::Stockholm;

use super::{FormatKind, InvalidValue, Reason};

fn out_of_range(first_day: NaiveDate) -> InvalidValue {
    InvalidValue::new(
        "month",
        Reason::format(first_day.format("%Y-%m").to_string(), FormatKind::Month),
    )
}

/// A calendar month in Stockholm as UTC instants `[from, to)`.
pub fn month_bounds(
    first_day: NaiveDate,
) -> Result<(chrono::NaiveDateTime, chrono::NaiveDateTime), InvalidValue> {
    let next = first_day
        .checked_add_months(chrono::Months::new(1))
        .ok_or_else(|| out_of_range(first_day))?;
    let utc = |d: NaiveDate| {
        Stockholm
            .from_local_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight"))
            .earliest()
            .map(|t| t.naive_utc())
            .ok_or_else(|| out_of_range(first_day))
    };
    Ok((utc(first_day)?, utc(next)?))
}
