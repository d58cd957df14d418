//! Tags: short lower-case labels agents put on tickets ("vattenläcka", "faktura-fel").

use crate::domain::FormatKind;
use crate::domain::InvalidValue;
use crate::domain::Reason;

pub const MAX_TAG: usize = 40;

/// A tag: trimmed, lower-cased, 1–40 letters, digits, '-' or '_' (Swedish letters included).
pub fn parse(s: &str) -> Result<String, InvalidValue> {
    let tag = s.trim().to_lowercase();
    if tag.is_empty() {
        return Err(InvalidValue::new("tag", Reason::Empty));
    }
    if tag.chars().count() > MAX_TAG {
        return Err(InvalidValue::new("tag", Reason::TooLong { max: MAX_TAG }));
    }
    if tag
        .chars()
        .any(|c| !(c.is_alphanumeric() || c == '-' || c == '_'))
    {
        return Err(InvalidValue::new(
            "tag",
            Reason::format(tag.as_str(), FormatKind::Tag),
        ));
    }
    Ok(tag)
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn tags_are_normalised_and_checked() {
        assert_eq!(parse("  Vattenläcka ").unwrap(), "vattenläcka");
        assert_eq!(parse("faktura-fel_2").unwrap(), "faktura-fel_2");
        assert!(parse("").is_err());
        assert!(parse("två ord").is_err());
        assert!(parse("<script>").is_err());
        assert!(parse(&"a".repeat(41)).is_err());
    }
}
