use std::fmt;

use super::{FormatKind, InvalidValue, Reason};

/// A phone number in E.164 form (`+46701234567`). Swedish national numbers (`070-123 45 67`,
/// `08-123 456 78`) are accepted and given the +46 country code; `00` prefixes become `+`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    pub fn parse(input: &str) -> Result<Self, InvalidValue> {
        let s = input.trim();
        if s.is_empty() {
            return Err(InvalidValue::new("phone", Reason::Empty));
        }
        let mut digits = String::with_capacity(s.len());
        for (i, ch) in s.chars().enumerate() {
            match ch {
                '0'..='9' => digits.push(ch),
                '+' if i == 0 => digits.push('+'),
                ' ' | '-' | '(' | ')' | '.' | '/' => {}
                _ => {
                    return Err(InvalidValue::new(
                        "phone",
                        Reason::format(s, FormatKind::Phone),
                    ));
                }
            }
        }
        let international = if let Some(rest) = digits.strip_prefix('+') {
            rest.to_string()
        } else if let Some(rest) = digits.strip_prefix("00") {
            rest.to_string()
        } else if let Some(rest) = digits.strip_prefix('0') {
            // Swedish trunk prefix: 070… → 4670…
            format!("46{rest}")
        } else {
            return Err(InvalidValue::new(
                "phone",
                Reason::format(s, FormatKind::Phone),
            ));
        };
        if international.starts_with('0') {
            return Err(InvalidValue::new(
                "phone",
                Reason::format(s, FormatKind::Phone),
            ));
        }
        if !(8..=15).contains(&international.len()) {
            return Err(InvalidValue::new(
                "phone",
                Reason::format(s, FormatKind::Phone),
            ));
        }
        if international.starts_with("46") && international.as_bytes().get(2) == Some(&b'0') {
            return Err(InvalidValue::new(
                "phone",
                Reason::format(s, FormatKind::Phone),
            ));
        }
        Ok(PhoneNumber(format!("+{international}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn masked(&self) -> String {
        let keep = self.0.len().saturating_sub(2);
        format!("{}**", &self.0[..keep.min(5)])
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber({})", self.masked())
    }
}

impl serde::Serialize for PhoneNumber {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swedish_forms_become_e164() {
        for (input, want) in [
            ("070-123 45 67", "+46701234567"),
            ("+46 70 123 45 67", "+46701234567"),
            ("0046701234567", "+46701234567"),
            ("08-123 456 78", "+46812345678"),
            ("+358 40 1234567", "+358401234567"),
        ] {
            assert_eq!(PhoneNumber::parse(input).unwrap().as_str(), want, "{input}");
        }
    }

    #[test]
    fn refuses_non_numbers() {
        for bad in [
            "",
            "hej",
            "12345",
            "+46 070 123",
            "+0123456789",
            "070-ABC",
            "+1234567890123456",
        ] {
            assert!(PhoneNumber::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
