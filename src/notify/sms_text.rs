//! How an SMS text is encoded and how many parts (segments) it takes — what the gateway bills.
//!
//! GSM 03.38 (GSM-7): 160 septets in one part, 153 per part when concatenated; the extension
//! characters (`^ { } \ [ ~ ] | €` and form feed) take two septets each. Anything outside the
//! alphabet makes the whole text UCS-2 (UTF-16): 70 units in one part, 67 per part; a character
//! outside the BMP (most emoji) takes two units.
//!
//! Å, Ä, Ö (and é, ü …) are in the GSM-7 alphabet, but many gateways and handsets still send
//! them as UCS-2, which more than doubles the parts; `nordic_gsm7` says whether the gateway keeps
//! them in GSM-7. The default assumes it does not, so the count shown before sending is never
//! lower than what is billed.

use serde::Serialize;

/// The GSM 03.38 basic character set, without the Nordic and other accented letters.
const GSM7_BASIC: &str = "@£$¥\n\r !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ§¿abcdefghijklmnopqrstuvwxyzΔΦΓΛΩΠΨΣΘΞ_";
/// The accented letters of the basic set (å, ä, ö among them).
const GSM7_ACCENTED: &str = "èéùìòÇØøÅåÆæßÉÄÖÑÜäöñüà";
/// The extension table: two septets each.
const GSM7_EXTENDED: &str = "^{}\\[~]|€\u{000C}";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    Gsm7,
    Ucs2,
}

impl Encoding {
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Gsm7 => "gsm7",
            Encoding::Ucs2 => "ucs2",
        }
    }
}

/// What a text takes as an SMS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Shape {
    pub encoding: Encoding,
    /// Septets (GSM-7) or UTF-16 units (UCS-2).
    pub units: usize,
    pub segments: usize,
    /// Units left in the last part before another part is needed.
    pub left_in_last: usize,
}

/// The encoding and parts of `text` on a gateway that does (`nordic_gsm7`) or does not keep
/// å, ä, ö in GSM-7.
pub fn shape(text: &str, nordic_gsm7: bool) -> Shape {
    let gsm_units = text.chars().try_fold(0usize, |n, c| {
        if GSM7_BASIC.contains(c) || (nordic_gsm7 && GSM7_ACCENTED.contains(c)) {
            Some(n + 1)
        } else if GSM7_EXTENDED.contains(c) {
            Some(n + 2)
        } else {
            None
        }
    });
    let (encoding, units, single, multi) = match gsm_units {
        Some(n) => (Encoding::Gsm7, n, 160, 153),
        None => (Encoding::Ucs2, text.encode_utf16().count(), 70, 67),
    };
    let segments = if units <= single {
        1
    } else {
        units.div_ceil(multi)
    };
    let capacity = if segments == 1 {
        single
    } else {
        segments * multi
    };
    Shape {
        encoding,
        units,
        segments,
        left_in_last: capacity - units,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_gsm7_with_160_and_153() {
        let s = shape(&"a".repeat(160), false);
        assert_eq!(
            (s.encoding, s.units, s.segments, s.left_in_last),
            (Encoding::Gsm7, 160, 1, 0)
        );
        let s = shape(&"a".repeat(161), false);
        assert_eq!((s.segments, s.left_in_last), (2, 306 - 161));
        assert_eq!(shape(&"a".repeat(306), false).segments, 2);
        assert_eq!(shape(&"a".repeat(307), false).segments, 3);
        assert_eq!(shape("", false).segments, 1);
    }

    #[test]
    fn extension_characters_take_two_septets() {
        let s = shape("Pris: 100€ [moms]", false);
        assert_eq!(s.encoding, Encoding::Gsm7);
        assert_eq!(s.units, 17 + 3);
        // 80 euro signs fill one part exactly; one more character makes two.
        assert_eq!(shape(&"€".repeat(80), false).segments, 1);
        assert_eq!(shape(&format!("{}a", "€".repeat(80)), false).segments, 2);
    }

    #[test]
    fn swedish_letters_force_ucs2_unless_the_gateway_keeps_them() {
        let text = "Hej! Ditt ärende KC-2026-000123 är löst. Läs mer på vår sida.";
        let s = shape(text, false);
        assert_eq!(s.encoding, Encoding::Ucs2);
        assert_eq!(s.units, text.chars().count());
        assert_eq!(s.segments, 1);
        let nordic = shape(text, true);
        assert_eq!(nordic.encoding, Encoding::Gsm7);
        // 71 UCS-2 units: two parts of 67.
        assert_eq!(shape(&"å".repeat(71), false).segments, 2);
        assert_eq!(shape(&"å".repeat(70), false).segments, 1);
        assert_eq!(shape(&"å".repeat(134), false).segments, 2);
        assert_eq!(shape(&"å".repeat(135), false).segments, 3);
    }

    #[test]
    fn emoji_take_two_units() {
        let s = shape("Tack 👍", false);
        assert_eq!((s.encoding, s.units), (Encoding::Ucs2, 7));
    }
}
