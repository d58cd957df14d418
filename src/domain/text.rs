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
