use std::fmt;
use std::str::FromStr;

use super::{FormatKind, InvalidValue, Reason};

/// The human ticket number: `<PREFIX>-<YEAR>-<SEQUENCE>`, e.g. `KC-2026-000123`. The prefix is the
/// tenant's (1–8 capital letters A–Z), the sequence restarts every year and has at least six digits.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TicketNumber {
    prefix: String,
    year: i32,
    seq: i64,
}

impl TicketNumber {
    pub fn new(prefix: &str, year: i32, seq: i64) -> Result<Self, InvalidValue> {
        validate_prefix(prefix)?;
        if !(1970..=9999).contains(&year) {
            return Err(InvalidValue::new(
                "ticket_number",
                Reason::format(
                    format!("{prefix}-{year}-{seq:06}"),
                    FormatKind::TicketNumber,
                ),
            ));
        }
        if seq < 1 {
            return Err(InvalidValue::new(
                "ticket_number",
                Reason::format(
                    format!("{prefix}-{year}-{seq:06}"),
                    FormatKind::TicketNumber,
                ),
            ));
        }
        Ok(TicketNumber {
            prefix: prefix.to_string(),
            year,
            seq,
        })
    }

    pub fn parse(input: &str) -> Result<Self, InvalidValue> {
        let s = input.trim();
        let mut parts = s.splitn(3, '-');
        let (Some(prefix), Some(year), Some(seq)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(InvalidValue::new(
                "ticket_number",
                Reason::format(s, FormatKind::TicketNumber),
            ));
        };
        let prefix = prefix.to_ascii_uppercase();
        if year.len() != 4 || !year.bytes().all(|b| b.is_ascii_digit()) {
            return Err(InvalidValue::new(
                "ticket_number",
                Reason::format(s, FormatKind::TicketNumber),
            ));
        }
        if seq.len() < 6 || seq.len() > 12 || !seq.bytes().all(|b| b.is_ascii_digit()) {
            return Err(InvalidValue::new(
                "ticket_number",
                Reason::format(s, FormatKind::TicketNumber),
            ));
        }
        let year: i32 = year.parse().map_err(|_| {
            InvalidValue::new("ticket_number", Reason::format(s, FormatKind::TicketNumber))
        })?;
        let seq: i64 = seq.parse().map_err(|_| {
            InvalidValue::new("ticket_number", Reason::format(s, FormatKind::TicketNumber))
        })?;
        TicketNumber::new(&prefix, year, seq)
    }

    /// What an agent types for a ticket of their own municipality: the full number, or a short
    /// one — `20` (this year's ticket 20) or `2025-20` — completed with the municipality's
    /// `prefix` and the current `year`.
    pub fn parse_short(input: &str, prefix: &str, year: i32) -> Result<Self, InvalidValue> {
        let s = input.trim();
        let digits =
            |p: &str| !p.is_empty() && p.len() <= 12 && p.bytes().all(|b| b.is_ascii_digit());
        let short = |y: i32, seq: &str| {
            let seq: i64 = seq.parse().map_err(|_| {
                InvalidValue::new("ticket_number", Reason::format(s, FormatKind::TicketNumber))
            })?;
            TicketNumber::new(prefix, y, seq)
        };
        if digits(s) {
            return short(year, s);
        }
        if let Some((y, seq)) = s.split_once('-')
            && y.len() == 4
            && digits(y)
            && digits(seq)
        {
            return short(y.parse().unwrap_or(0), seq);
        }
        TicketNumber::parse(s)
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }
    pub fn year(&self) -> i32 {
        self.year
    }
    pub fn seq(&self) -> i64 {
        self.seq
    }
}

pub fn validate_prefix(prefix: &str) -> Result<(), InvalidValue> {
    if prefix.is_empty() || prefix.len() > 8 || !prefix.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(InvalidValue::new(
            "ticket_prefix",
            Reason::format(prefix, FormatKind::TicketPrefix),
        ));
    }
    Ok(())
}

impl fmt::Display for TicketNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{:06}", self.prefix, self.year, self.seq)
    }
}

impl fmt::Debug for TicketNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TicketNumber({self})")
    }
}

impl FromStr for TicketNumber {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TicketNumber::parse(s)
    }
}

impl serde::Serialize for TicketNumber {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_round_trip() {
        let n = TicketNumber::new("KC", 2026, 123).unwrap();
        assert_eq!(n.to_string(), "KC-2026-000123");
        assert_eq!(TicketNumber::parse("KC-2026-000123").unwrap(), n);
        assert_eq!(TicketNumber::parse("kc-2026-000123").unwrap(), n);
        let big = TicketNumber::new("VA", 2027, 1_234_567).unwrap();
        assert_eq!(TicketNumber::parse(&big.to_string()).unwrap(), big);
    }

    #[test]
    fn short_numbers_mean_this_year_of_the_municipality() {
        let parse = |s| TicketNumber::parse_short(s, "KC", 2026);
        assert_eq!(parse("20").unwrap().to_string(), "KC-2026-000020");
        assert_eq!(parse(" 000020 ").unwrap().to_string(), "KC-2026-000020");
        assert_eq!(parse("2025-7").unwrap().to_string(), "KC-2025-000007");
        assert_eq!(
            parse("kc-2026-000020").unwrap().to_string(),
            "KC-2026-000020"
        );
        // Another municipality's full number stays what it says (it is then not found).
        assert_eq!(
            parse("VA-2026-000020").unwrap().to_string(),
            "VA-2026-000020"
        );
        for bad in ["", "0", "-3", "2x", "KC-20", "20-2026", "1234567890123"] {
            assert!(parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn refuses_malformed() {
        for bad in [
            "",
            "KC",
            "KC-2026",
            "KC-26-000001",
            "KC-2026-12",
            "K1-2026-000001",
            "KC-2026-00000x",
            "ABCDEFGHI-2026-000001",
            "KC-2026-000000",
        ] {
            assert!(TicketNumber::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
