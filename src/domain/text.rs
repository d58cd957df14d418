//! Text from outside: which characters no stored text may hold.

/// A character no text field may hold: C0 controls except tab, LF and CR; DEL; C1 controls.
/// PostgreSQL cannot store NUL in text at all; the others are never written by people and only
/// confuse what shows them (terminal escapes in logs, invisible marks on pages).
pub fn is_refused_char(c: char) -> bool {
    c.is_control() && !matches!(c, '\t' | '\n' | '\r')
}

/// Text that is kept rather than refused (mail): refused characters removed.
pub fn strip_controls(s: &str) -> String {
    if s.chars().any(is_refused_char) {
        s.chars().filter(|c| !is_refused_char(*c)).collect()
    } else {
        s.to_string()
    }
}

/// A slug: 1–40 of a–z, 0–9 and '-', used in URLs and CLI arguments.
pub fn slug(s: &str, field: &'static str) -> Result<String, super::InvalidValue> {
    let s = s.trim();
    if s.is_empty()
        || s.len() > 40
        || !s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        || s.starts_with('-')
    {
        return Err(super::InvalidValue::new(
            field,
            super::Reason::format(s, super::FormatKind::Slug),
        ));
    }
    Ok(s.to_string())
}

/// The name a stored mail is downloaded under: `<its subject>.eml`, or `meddelande-<id>.eml`.
pub fn eml_filename(subject: &str, id: i64) -> String {
    let stem = subject_stem(subject);
    if stem.is_empty() {
        format!("meddelande-{id}.eml")
    } else {
        format!("{stem}.eml")
    }
}

/// A subject as a file name stem: no path separators or characters file systems refuse, no
/// control characters, at most 150 characters.
pub fn subject_stem(subject: &str) -> String {
    let mapped: String = subject
        .chars()
        .filter(|c| !c.is_control() && *c != ':')
        .map(|c| {
            if matches!(c, '/' | '\\' | '*' | '?' | '"' | '<' | '>' | '|') {
                '-'
            } else {
                c
            }
        })
        .collect();
    let words: Vec<&str> = mapped.split_whitespace().collect();
    words
        .join(" ")
        .trim_matches(|c: char| c == '.' || c == ' ')
        .chars()
        .take(150)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_go_text_stays() {
        assert_eq!(
            strip_controls("a\0b\r\nc\u{1b}[0m\u{7f}\u{85}\t"),
            "ab\r\nc[0m\t"
        );
        assert_eq!(strip_controls("Åsa €"), "Åsa €");
        assert!(is_refused_char('\u{9f}'));
        assert!(!is_refused_char('\u{a0}'));
    }
}
