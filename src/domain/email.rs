use std::fmt;

use super::{FormatKind, InvalidValue, Reason};

/// A syntactically valid e-mail address, trimmed, with the domain lower-cased.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(input: &str) -> Result<Self, InvalidValue> {
        let s = input.trim();
        if s.is_empty() {
            return Err(InvalidValue::new("email", Reason::Empty));
        }
        if s.len() > 254 {
            return Err(InvalidValue::new("email", Reason::TooLong { max: 254 }));
        }
        let parsed = email_address::EmailAddress::parse_with_options(
            s,
            email_address::Options::default()
                .without_display_text()
                .without_domain_literal(),
        )
        .map_err(|_| InvalidValue::new("email", Reason::format(s, FormatKind::Email)))?;
        let (local, domain) = (parsed.local_part(), parsed.domain());
        if !domain.contains('.') && domain != "localhost" {
            return Err(InvalidValue::new(
                "email",
                Reason::format(s, FormatKind::Email),
            ));
        }
        Ok(EmailAddress(format!("{local}@{}", domain.to_lowercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map(|(_, d)| d).unwrap_or("")
    }

    /// `a***@example.org`, for logs.
    pub fn masked(&self) -> String {
        match self.0.split_once('@') {
            Some((l, d)) => format!("{}***@{d}", l.chars().next().unwrap_or('*')),
            None => "***".into(),
        }
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Debug is masked so addresses do not end up in logs by accident.
impl fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EmailAddress({})", self.masked())
    }
}

impl serde::Serialize for EmailAddress {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_and_swedish_addresses() {
        assert_eq!(
            EmailAddress::parse("  Anna.Berg@Exempel.SE ")
                .unwrap()
                .as_str(),
            "Anna.Berg@exempel.se"
        );
        assert!(EmailAddress::parse("kundtjanst@kommun.se").is_ok());
        assert!(EmailAddress::parse("åsa@exempel.se").is_ok());
    }

    #[test]
    fn refuses_garbage() {
        for bad in [
            "",
            "anna",
            "anna@",
            "@kommun.se",
            "a b@kommun.se",
            "anna@kommun",
            "Anna <a@b.se>",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn debug_masks() {
        let e = EmailAddress::parse("anna@exempel.se").unwrap();
        assert_eq!(format!("{e:?}"), "EmailAddress(a***@exempel.se)");
    }
}
