//! Reading an incoming mail: whatever arrives (any charset, quoted-printable or base64, RFC 2047
//! words, multipart/alternative, HTML only, attachments, forwarded messages, or plain garbage) becomes
//! a `ParsedMail`. Parsing never fails and never panics: what cannot be read is noted in `problems`,
//! and the raw source is always kept by the caller.
//!
//! MIME and charsets are mail-parser's job (with `full_encoding`: ISO-8859-1/15, Windows-1252 …);
//! HTML is cleaned by ammonia before it is stored.
//!
//! Bytes that are not UTF-8 where the mail says nothing (a raw 8-bit `Subject:` from an old
//! Windows client, a part in `unknown-8bit`, an unknown charset name) are read in the charset the
//! mail declares elsewhere (another part's charset), else as Windows-1252 — never as U+FFFD
//! (decision D41). What cannot be read (a truncated part, bad base64, an unknown charset, an
//! attachment over the limit) is a [`Problem`], stored on the message and shown to the agent.

use mail_parser::decoders::charsets::map::charset_decoder;
use mail_parser::{
    Address, Encoding, HeaderName, HeaderValue, MessageParser, MimeHeaders, PartType,
};

use crate::domain::EmailAddress;

/// Why a mail is automatic and must never be acknowledged (RFC 3834 and common practice).
pub use crate::domain::Automatic;

/// What of a mail could not be read or shown. Stored on the message (`message_problems`) so the
/// agent sees a notice and knows to open the original.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Problem {
    /// An attachment over the size limit: left out here, it is in the raw source.
    Oversize {
        filename: String,
        size: usize,
        limit: usize,
    },
    /// A part (or the whole mail) ends before its end: its boundary or its base64 is cut off.
    Truncated { part: String },
    /// A base64 part with characters base64 does not have.
    BadBase64 { part: String },
    /// A charset we cannot decode: the text was read as `used` instead. `part` is empty for the
    /// mail's own text.
    Charset {
        charset: String,
        used: String,
        part: String,
    },
    /// Not a readable e-mail at all: the text is the raw source.
    Unreadable,
    /// No sender, or one that is not an address (nothing to show; the message says so itself).
    NoSender,
}

impl Problem {
    /// The kind as stored (`message_problems.kind`); `None` for what is not stored.
    pub fn kind(&self) -> Option<&'static str> {
        Some(match self {
            Problem::Oversize { .. } => "oversize",
            Problem::Truncated { .. } => "truncated",
            Problem::BadBase64 { .. } => "bad_base64",
            Problem::Charset { .. } => "charset",
            Problem::Unreadable => "unreadable",
            Problem::NoSender => return None,
        })
    }
}

#[derive(Debug, Clone)]
pub struct Attachment {
    pub filename: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
    pub inline: bool,
    pub content_id: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct ParsedMail {
    /// Message-ID without angle brackets.
    pub message_id: Option<String>,
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    pub from: Option<EmailAddress>,
    pub from_name: Option<String>,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub subject: String,
    /// The text to show: the text part, or the HTML part converted to text.
    pub text: String,
    /// The HTML part, sanitised (no scripts, event handlers, or javascript: links).
    pub html: Option<String>,
    pub attachments: Vec<Attachment>,
    pub automatic: Option<Automatic>,
    /// What could not be read or was left out (e.g. an attachment over the size limit).
    pub problems: Vec<Problem>,
    /// The mail carries Ärendo's own `X-Arendo-Origin` header: Ärendo sent it (a loop).
    pub arendo_origin: bool,
}

fn addresses(a: Option<&Address<'_>>) -> Vec<String> {
    a.map(|a| {
        a.iter()
            .filter_map(|x| x.address())
            .filter_map(|s| EmailAddress::parse(s).ok())
            .map(|e| e.to_string())
            .collect()
    })
    .unwrap_or_default()
}

fn ids(v: &HeaderValue<'_>) -> Vec<String> {
    match v {
        HeaderValue::Text(t) => vec![t.to_string()],
        HeaderValue::TextList(l) => l.iter().map(|s| s.to_string()).collect(),
        _ => vec![],
    }
}

/// Parse `raw`. Attachments larger than `max_attachment_bytes` are left out (they stay in the raw
/// source) and noted in `problems`.
pub fn parse(raw: &[u8], max_attachment_bytes: usize) -> ParsedMail {
    without_controls(
        match std::panic::catch_unwind(|| parse_inner(raw, max_attachment_bytes)) {
            Ok(p) => p,
            Err(_) => ParsedMail {
                text: String::from_utf8_lossy(raw).into_owned(),
                problems: vec![Problem::Unreadable],
                ..Default::default()
            },
        },
    )
}

/// Mail is kept, not refused: control characters (a NUL in a body, an escape sequence in a
/// subject) are removed from every text the mail gives us, so ingest succeeds on both backends
/// (PostgreSQL cannot store NUL in text) and nothing odd reaches a page. The raw source stays
/// byte for byte in the blob store.
fn without_controls(mut p: ParsedMail) -> ParsedMail {
    use crate::domain::text::strip_controls as clean;
    let opt = |o: &mut Option<String>| {
        if let Some(s) = o.as_mut() {
            *s = clean(s);
        }
    };
    let all = |v: &mut Vec<String>| v.iter_mut().for_each(|s| *s = clean(s));
    opt(&mut p.message_id);
    all(&mut p.in_reply_to);
    all(&mut p.references);
    opt(&mut p.from_name);
    all(&mut p.to);
    all(&mut p.cc);
    p.subject = clean(&p.subject);
    p.text = clean(&p.text);
    opt(&mut p.html);
    for pr in &mut p.problems {
        match pr {
            Problem::Oversize { filename: s, .. }
            | Problem::Truncated { part: s }
            | Problem::BadBase64 { part: s } => *s = clean(s),
            Problem::Charset { charset, part, .. } => {
                *charset = clean(charset);
                *part = clean(part);
            }
            Problem::Unreadable | Problem::NoSender => {}
        }
    }
    for a in &mut p.attachments {
        a.filename = clean(&a.filename);
        a.content_type = clean(&a.content_type);
        opt(&mut a.content_id);
    }
    p
}

fn parse_inner(raw: &[u8], max_attachment_bytes: usize) -> ParsedMail {
    let Some(mut msg) = MessageParser::default().parse(raw) else {
        return ParsedMail {
            text: String::from_utf8_lossy(raw).into_owned(),
            problems: vec![Problem::Unreadable],
            ..Default::default()
        };
    };
    let fallback = fallback_charset(&msg);
    repair_headers(&mut msg, raw, fallback);
    let mut problems = repair_text_parts(&mut msg, raw, fallback);
    let unreadable_parts: Vec<usize> = encoding_problems(&msg, raw, &mut problems);
    let mut out = ParsedMail {
        message_id: msg
            .message_id()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty()),
        in_reply_to: ids(msg.in_reply_to()),
        references: ids(msg.references()),
        to: addresses(msg.to()),
        cc: addresses(msg.cc()),
        subject: msg.subject().unwrap_or("").trim().to_string(),
        ..Default::default()
    };
    if let Some(first) = msg.from().and_then(|a| a.first()) {
        out.from_name = first
            .name()
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty());
        match first.address().map(EmailAddress::parse) {
            Some(Ok(e)) => out.from = Some(e),
            Some(Err(_)) | None => out.problems.push(Problem::NoSender),
        }
    } else {
        out.problems.push(Problem::NoSender);
    }
    out.problems.extend(problems);

    out.text = msg.body_text(0).map(|t| t.into_owned()).unwrap_or_default();
    // Keep HTML only when there is a real HTML part (mail-parser also renders text as HTML).
    if msg.html_part(0).is_some_and(|p| p.is_text_html())
        && let Some(h) = msg.body_html(0)
    {
        out.html = Some(ammonia::clean(&h));
    }

    for &id in &msg.attachments {
        let Some(part) = msg.parts.get(id as usize) else {
            continue;
        };
        // A part that could not be decoded is not its content: the notice points at the original.
        if unreadable_parts.contains(&(id as usize)) {
            continue;
        }
        let content_type = part
            .content_type()
            .map(|c| match c.subtype() {
                Some(s) => format!("{}/{}", c.ctype(), s),
                None => c.ctype().to_string(),
            })
            .unwrap_or_else(|| {
                if matches!(part.body, PartType::Message(_)) {
                    "message/rfc822".into()
                } else {
                    "application/octet-stream".into()
                }
            })
            .to_ascii_lowercase();
        let filename = part_filename(part, &content_type);
        // A forwarded message/rfc822 part is kept whole, as an .eml attachment.
        let bytes: Vec<u8> = part.contents().to_vec();
        if bytes.len() > max_attachment_bytes {
            out.problems.push(Problem::Oversize {
                filename,
                size: bytes.len(),
                limit: max_attachment_bytes,
            });
            continue;
        }
        let inline = part
            .content_disposition()
            .is_some_and(|d| d.ctype().eq_ignore_ascii_case("inline"));
        out.attachments.push(Attachment {
            filename,
            content_type,
            bytes,
            inline,
            content_id: part.content_id().map(|s| s.to_string()),
        });
    }

    out.automatic = automatic(&msg, out.from.as_ref());
    out.arendo_origin = msg.header_raw(ORIGIN_HEADER).is_some();
    out
}

pub use crate::delivery::mail::ORIGIN_HEADER;

fn automatic(msg: &mail_parser::Message<'_>, from: Option<&EmailAddress>) -> Option<Automatic> {
    let header = |name: &str| msg.header_raw(name).map(|v| v.trim().to_ascii_lowercase());
    if header("Auto-Submitted").is_some_and(|v| !v.starts_with("no")) {
        return Some(Automatic::AutoSubmitted);
    }
    if msg.content_type().is_some_and(|c| {
        c.ctype().eq_ignore_ascii_case("multipart")
            && c.subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("report"))
    }) {
        return Some(Automatic::Bounce);
    }
    if let Some(f) = from {
        let local = f
            .as_str()
            .split('@')
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        if local == "mailer-daemon" || local == "postmaster" {
            return Some(Automatic::Bounce);
        }
    }
    if header("Precedence").is_some_and(|v| v == "bulk" || v == "junk" || v == "list") {
        return Some(Automatic::Bulk);
    }
    if header("X-Autoreply").is_some()
        || header("X-Autorespond").is_some()
        || header("X-Auto-Response-Suppress").is_some()
    {
        return Some(Automatic::AutoReplyHeader);
    }
    if header("List-Id").is_some() {
        return Some(Automatic::MailingList);
    }
    None
}

/// The name an attachment is saved under: its own name; a forwarded mail (message/rfc822) as
/// `<its subject>.eml`; any other unnamed part as `bilaga.<extension of its type>` (decision D43).
fn part_filename(part: &mail_parser::MessagePart<'_>, content_type: &str) -> String {
    let ext = extension_for(content_type);
    if let Some(name) = part.attachment_name().filter(|n| !n.trim().is_empty()) {
        let name = sanitize_filename(name);
        // A forwarded mail named without an extension ("Vidarebefordrat meddelande").
        if ext == Some("eml") && !name.contains('.') {
            return format!("{name}.eml");
        }
        return name;
    }
    if let PartType::Message(m) = &part.body {
        let stem = m.subject().map(subject_stem).unwrap_or_default();
        let stem = if stem.is_empty() {
            "vidarebefordrat-meddelande".to_string()
        } else {
            stem
        };
        return format!("{stem}.eml");
    }
    match ext {
        Some(e) => format!("bilaga.{e}"),
        None => "bilaga".into(),
    }
}

pub use crate::domain::text::{eml_filename, subject_stem};

/// The usual file extension of a MIME type, for parts that carry no name.
pub fn extension_for(content_type: &str) -> Option<&'static str> {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    Some(match essence.as_str() {
        "message/rfc822" | "message/global" => "eml",
        "message/delivery-status"
        | "message/global-delivery-status"
        | "message/disposition-notification"
        | "text/rfc822-headers"
        | "message/global-headers"
        | "text/plain" => "txt",
        "text/html" => "html",
        "text/csv" => "csv",
        "text/calendar" => "ics",
        "text/vcard" | "text/x-vcard" => "vcf",
        "text/xml" | "application/xml" => "xml",
        "application/json" => "json",
        "application/pdf" => "pdf",
        "application/zip" => "zip",
        "application/rtf" | "text/rtf" => "rtf",
        "application/msword" => "doc",
        "application/vnd.ms-excel" => "xls",
        "application/vnd.ms-powerpoint" => "ppt",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => "docx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => "xlsx",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation" => "pptx",
        "application/vnd.oasis.opendocument.text" => "odt",
        "application/vnd.oasis.opendocument.spreadsheet" => "ods",
        "application/pkcs7-signature" | "application/x-pkcs7-signature" => "p7s",
        "application/pgp-signature" => "asc",
        "image/png" => "png",
        "image/jpeg" | "image/jpg" | "image/pjpeg" => "jpg",
        "image/gif" => "gif",
        "image/webp" => "webp",
        "image/heic" => "heic",
        "image/tiff" => "tif",
        "image/bmp" => "bmp",
        "audio/mpeg" => "mp3",
        "audio/ogg" => "ogg",
        "audio/wav" | "audio/x-wav" => "wav",
        "video/mp4" => "mp4",
        "video/webm" => "webm",
        _ => return None,
    })
}

/// Charset names that say nothing about 8-bit bytes that are not UTF-8.
fn says_nothing(label: &str) -> bool {
    matches!(
        label.trim().to_ascii_lowercase().as_str(),
        "utf-8" | "utf8" | "us-ascii" | "ascii" | "unknown-8bit" | "x-unknown" | "unknown" | ""
    )
}

/// The charset to read undeclared 8-bit bytes in: the first charset the mail declares on any
/// part that is a real 8-bit charset we can decode, else Windows-1252 (what such mail almost
/// always is in Sweden).
fn fallback_charset(msg: &mail_parser::Message<'_>) -> &'static str {
    const KNOWN: &[&str] = &[
        "windows-1252",
        "iso-8859-1",
        "iso-8859-15",
        "iso-8859-2",
        "windows-1250",
        "windows-1257",
        "iso-8859-4",
        "iso-8859-13",
        "koi8-r",
        "windows-1251",
        "iso-8859-5",
        "iso-8859-7",
        "shift_jis",
        "euc-jp",
        "iso-2022-jp",
        "gb2312",
        "gbk",
        "big5",
        "euc-kr",
    ];
    for part in &msg.parts {
        if let Some(cs) = part.content_type().and_then(|c| c.attribute("charset")) {
            let cs = cs.trim().to_ascii_lowercase();
            let cs = match cs.as_str() {
                "cp1252" | "windows1252" => "windows-1252".to_string(),
                "latin1" | "iso8859-1" | "iso_8859-1" => "iso-8859-1".to_string(),
                _ => cs,
            };
            if !says_nothing(&cs)
                && charset_decoder(cs.as_bytes()).is_some()
                && let Some(k) = KNOWN.iter().find(|k| **k == cs)
            {
                return k;
            }
        }
    }
    "windows-1252"
}

fn decode_as(bytes: &[u8], charset: &str) -> String {
    match charset_decoder(charset.as_bytes()) {
        Some(d) => d(bytes),
        None => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// Headers with bytes that are not UTF-8 (a raw 8-bit `Subject:` or file name) are read again in
/// the fallback charset, through the same header parser (so encoded words and folding still work).
fn repair_headers(msg: &mut mail_parser::Message<'_>, raw: &[u8], fallback: &str) {
    for part in &mut msg.parts {
        for h in &mut part.headers {
            let Some(bytes) = raw.get(h.offset_start as usize..h.offset_end as usize) else {
                continue;
            };
            if std::str::from_utf8(bytes).is_ok() {
                continue;
            }
            let text = decode_as(bytes, fallback);
            let again = format!("{}:{}\r\n\r\n", h.name.as_str(), text);
            let Some(tmp) = MessageParser::default().parse(again.as_bytes()) else {
                continue;
            };
            let value = tmp.parts.into_iter().next().and_then(|p| {
                p.headers
                    .into_iter()
                    .find(|x| x.name.as_str().eq_ignore_ascii_case(h.name.as_str()))
                    .map(|x| x.value.into_owned())
            });
            if let Some(v) = value {
                h.value = v;
            }
        }
    }
}

/// The bytes of a part's body after its transfer encoding, from the raw source.
fn transfer_decoded(part: &mail_parser::MessagePart<'_>, raw: &[u8]) -> Option<Vec<u8>> {
    let body = raw.get(part.offset_body as usize..part.offset_end as usize)?;
    match part.encoding {
        Encoding::None => Some(body.to_vec()),
        Encoding::QuotedPrintable => {
            mail_parser::decoders::quoted_printable::quoted_printable_decode(body)
        }
        Encoding::Base64 => mail_parser::decoders::base64::base64_decode(body),
    }
}

fn part_label(part: &mail_parser::MessagePart<'_>) -> String {
    if let Some(n) = part.attachment_name() {
        return sanitize_filename(n);
    }
    part.content_type()
        .map(|c| match c.subtype() {
            Some(s) => format!("{}/{}", c.ctype(), s),
            None => c.ctype().to_string(),
        })
        .unwrap_or_else(|| "text/plain".into())
        .to_ascii_lowercase()
}

/// Text parts whose bytes are not UTF-8 and whose charset says nothing (none, `utf-8`,
/// `unknown-8bit`) or is unknown are read in the fallback charset instead of becoming U+FFFD. An
/// unknown charset name is a problem the agent is told about.
fn repair_text_parts(
    msg: &mut mail_parser::Message<'_>,
    raw: &[u8],
    fallback: &str,
) -> Vec<Problem> {
    let mut problems = vec![];
    for part in &mut msg.parts {
        let text = match &part.body {
            PartType::Text(t) | PartType::Html(t) => t,
            _ => continue,
        };
        if part.is_encoding_problem || !text.contains('\u{FFFD}') {
            continue;
        }
        let declared = part
            .content_type()
            .and_then(|c| c.attribute("charset"))
            .map(|s| s.trim().to_string());
        let unknown = declared
            .as_deref()
            .is_some_and(|d| !says_nothing(d) && charset_decoder(d.as_bytes()).is_none());
        if declared.as_deref().is_some_and(|d| !says_nothing(d)) && !unknown {
            continue; // a real charset mail-parser decoded; a U+FFFD in it is the sender's
        }
        let Some(bytes) = transfer_decoded(part, raw) else {
            continue;
        };
        if std::str::from_utf8(&bytes).is_ok() {
            continue;
        }
        let fixed = decode_as(&bytes, fallback);
        if unknown {
            problems.push(Problem::Charset {
                charset: declared.clone().unwrap_or_default(),
                used: fallback.to_string(),
                // The mail's own text has no name; an attached text file has.
                part: part
                    .attachment_name()
                    .map(sanitize_filename)
                    .unwrap_or_default(),
            });
        }
        part.body = match &part.body {
            PartType::Html(_) => PartType::Html(fixed.into()),
            _ => PartType::Text(fixed.into()),
        };
    }
    problems
}

/// Parts mail-parser could not decode: bad base64, or a part cut off before its boundary. Returns
/// the indexes of those parts (they are not saved as attachments: their bytes are not the file).
fn encoding_problems(
    msg: &mail_parser::Message<'_>,
    raw: &[u8],
    problems: &mut Vec<Problem>,
) -> Vec<usize> {
    let mut ids = vec![];
    for (i, part) in msg.parts.iter().enumerate() {
        if !part.is_encoding_problem || matches!(part.body, PartType::Multipart(_)) {
            continue;
        }
        let declared_base64 = part
            .headers
            .iter()
            .find(|h| h.name == HeaderName::ContentTransferEncoding)
            .and_then(|h| h.value.as_text())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("base64"));
        let body = raw
            .get(part.offset_body as usize..part.offset_end as usize)
            .unwrap_or_default();
        // A mail that ends after its headers has no body to lose.
        if body.iter().all(|b| b.is_ascii_whitespace()) && !declared_base64 {
            continue;
        }
        let label = part_label(part);
        let only_base64 = body.iter().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(b, b'+' | b'/' | b'=' | b'\r' | b'\n' | b' ' | b'\t')
        });
        if declared_base64 && !only_base64 {
            problems.push(Problem::BadBase64 { part: label });
        } else {
            problems.push(Problem::Truncated { part: label });
        }
        if i != 0 {
            ids.push(i);
        }
    }
    ids
}

/// A file name safe to show and to send back in Content-Disposition: no paths, no control characters.
pub fn sanitize_filename(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let clean: String = base
        .chars()
        .filter(|c| !c.is_control() && *c != '"')
        .collect::<String>()
        .trim()
        .trim_start_matches('.')
        .to_string();
    if clean.is_empty() {
        "bilaga".into()
    } else {
        clean.chars().take(200).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: usize = 10 * 1024 * 1024;

    fn crlf(s: &str) -> Vec<u8> {
        s.replace('\n', "\r\n").into_bytes()
    }

    #[test]
    fn iso_8859_1_quoted_printable_and_encoded_words() {
        let raw = crlf(
            "From: =?ISO-8859-1?Q?=C5sa_=D6berg?= <asa@example.org>\n\
             To: va@kommun.se\n\
             Subject: =?ISO-8859-1?Q?Vattenl=E4cka_p=E5_g=E5rden?=\n\
             Message-ID: <abc123@example.org>\n\
             MIME-Version: 1.0\n\
             Content-Type: text/plain; charset=ISO-8859-1\n\
             Content-Transfer-Encoding: quoted-printable\n\
             \n\
             Hej! Det l=E4cker vatten fr=E5n m=E4taren i k=E4llaren. Mvh =C5sa\n",
        );
        let m = parse(&raw, LIMIT);
        assert_eq!(m.subject, "Vattenläcka på gården");
        assert_eq!(m.from_name.as_deref(), Some("Åsa Öberg"));
        assert_eq!(m.from.unwrap().as_str(), "asa@example.org");
        assert_eq!(m.message_id.as_deref(), Some("abc123@example.org"));
        assert!(
            m.text.contains("Det läcker vatten från mätaren i källaren"),
            "{}",
            m.text
        );
        assert!(m.automatic.is_none());
        assert!(m.problems.is_empty(), "{:?}", m.problems);
    }

    #[test]
    fn windows_1252_base64() {
        use base64::Engine as _;
        // "Trasig gatubelysning – lampan är släckt" in Windows-1252 (– is 0x96).
        let bytes: Vec<u8> = b"Trasig gatubelysning \x96 lampan \xe4r sl\xe4ckt".to_vec();
        let body = base64::engine::general_purpose::STANDARD.encode(bytes);
        let raw = crlf(&format!(
            "From: omar@example.org\nSubject: Lampa\nContent-Type: text/plain; charset=windows-1252\nContent-Transfer-Encoding: base64\n\n{body}\n"
        ));
        let m = parse(&raw, LIMIT);
        assert_eq!(m.text.trim(), "Trasig gatubelysning – lampan är släckt");
    }

    #[test]
    fn alternative_prefers_text_and_sanitises_html() {
        let raw = crlf(
            "From: a@example.org\nSubject: Hej\nContent-Type: multipart/alternative; boundary=XX\n\n\
             --XX\nContent-Type: text/plain; charset=utf-8\n\nTextdelen\n\
             --XX\nContent-Type: text/html; charset=utf-8\n\n<p onclick=\"x()\">HTML-delen</p><script>alert(1)</script><a href=\"javascript:x\">l</a>\n\
             --XX--\n",
        );
        let m = parse(&raw, LIMIT);
        assert_eq!(m.text.trim(), "Textdelen");
        let html = m.html.unwrap();
        assert!(html.contains("HTML-delen"));
        assert!(
            !html.contains("script") && !html.contains("onclick") && !html.contains("javascript"),
            "{html}"
        );
    }

    #[test]
    fn html_only_becomes_text() {
        let raw = crlf(
            "From: a@example.org\nSubject: Bara HTML\nContent-Type: text/html; charset=utf-8\n\n\
             <html><body><p>Hej kommunen,</p><p>n&auml;r t&ouml;ms soptunnan?</p></body></html>\n",
        );
        let m = parse(&raw, LIMIT);
        assert!(m.text.contains("Hej kommunen,"), "{}", m.text);
        assert!(m.text.contains("när töms soptunnan?"), "{}", m.text);
        assert!(!m.text.contains('<'), "{}", m.text);
        assert!(m.html.is_some());
    }

    #[test]
    fn attachments_are_kept_byte_for_byte_and_limited() {
        use base64::Engine as _;
        let pdf: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&pdf);
        let raw = crlf(&format!(
            "From: a@example.org\nSubject: Ritning\nContent-Type: multipart/mixed; boundary=B\n\n\
             --B\nContent-Type: text/plain\n\nSe bifogad ritning.\n\
             --B\nContent-Type: application/pdf; name=\"../../ritning.pdf\"\nContent-Disposition: attachment; filename=\"../../ritning.pdf\"\nContent-Transfer-Encoding: base64\n\n{b64}\n\
             --B--\n"
        ));
        let m = parse(&raw, LIMIT);
        assert_eq!(m.attachments.len(), 1);
        let a = &m.attachments[0];
        assert_eq!(a.filename, "ritning.pdf");
        assert_eq!(a.content_type, "application/pdf");
        assert_eq!(a.bytes, pdf);
        assert!(!a.inline);
        let small = parse(&raw, 1000);
        assert!(small.attachments.is_empty());
        assert!(
            matches!(&small.problems[0], Problem::Oversize { filename, size: 3000, limit: 1000 } if filename == "ritning.pdf"),
            "{:?}",
            small.problems
        );
    }

    #[test]
    fn threading_headers() {
        let raw = crlf(
            "From: a@example.org\nSubject: Re: Fråga [KC-2026-000001]\nIn-Reply-To: <x1@arendo>\nReferences: <x0@example.org> <x1@arendo>\n\nTack!\n",
        );
        let m = parse(&raw, LIMIT);
        assert_eq!(m.in_reply_to, vec!["x1@arendo"]);
        assert_eq!(m.references, vec!["x0@example.org", "x1@arendo"]);
    }

    #[test]
    fn automatic_mail_is_recognised() {
        let cases = [
            (
                "Auto-Submitted: auto-replied\n",
                Some(Automatic::AutoSubmitted),
            ),
            ("Auto-Submitted: no\n", None),
            ("Precedence: bulk\n", Some(Automatic::Bulk)),
            ("X-Autoreply: yes\n", Some(Automatic::AutoReplyHeader)),
            (
                "X-Auto-Response-Suppress: All\n",
                Some(Automatic::AutoReplyHeader),
            ),
            (
                "List-Id: <nyheter.example.org>\n",
                Some(Automatic::MailingList),
            ),
        ];
        for (h, want) in cases {
            let raw = crlf(&format!("From: a@example.org\nSubject: x\n{h}\nText\n"));
            assert_eq!(parse(&raw, LIMIT).automatic, want, "{h}");
        }
        let dsn = crlf(
            "From: MAILER-DAEMON@mx.example.org\nSubject: Undelivered\nContent-Type: multipart/report; report-type=delivery-status; boundary=R\n\n--R\nContent-Type: text/plain\n\nFailed\n--R--\n",
        );
        assert_eq!(parse(&dsn, LIMIT).automatic, Some(Automatic::Bounce));
    }

    #[test]
    fn garbage_never_panics_and_keeps_what_it_can() {
        for raw in [
            &b""[..],
            b"\x00\xff\xfe garbage",
            b"Subject: only a subject\r\n",
            b"From: <<<>>>\r\n\r\nbody",
        ] {
            let m = parse(raw, LIMIT);
            assert!(m.from.is_none(), "{raw:?}");
            assert!(
                !m.problems.is_empty(),
                "{raw:?}: the missing sender must be noted"
            );
        }
        let m = parse(b"Subject: Hj\xe4lp\r\n\r\nText utan avs\xe4ndare", LIMIT);
        assert!(m.text.contains("Text utan avs"), "{}", m.text);
        assert!(m.problems.contains(&Problem::NoSender), "{:?}", m.problems);
    }

    #[test]
    fn control_characters_are_removed_from_what_the_mail_says() {
        let raw = b"From: =?utf-8?q?G=C3=B6ran=00?= <goran@example.org>\r\nSubject: Hj\x00\x1bl[31mp\r\nMessage-ID: <a\x01b@example.org>\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nrad 1\x00\r\nrad\x07 2\r\n--B\r\nContent-Type: text/html\r\n\r\n<p>a\x00b</p>\r\n--B\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"x\x00.pdf\"\r\n\r\n%PDF\x00\r\n--B--\r\n";
        let m = parse(raw, LIMIT);
        let texts = [
            m.subject.clone(),
            m.text.clone(),
            m.html.clone().unwrap_or_default(),
            m.from_name.clone().unwrap_or_default(),
            m.message_id.clone().unwrap_or_default(),
        ];
        for t in texts
            .iter()
            .chain(m.attachments.iter().map(|a| &a.filename))
        {
            assert!(
                !t.chars().any(crate::domain::text::is_refused_char),
                "{t:?}"
            );
        }
        assert!(m.text.contains("rad 1"), "{}", m.text);
        assert!(m.subject.starts_with("Hj"), "{}", m.subject);
        // Attachments stay byte for byte.
        assert!(m.attachments.iter().any(|a| a.bytes.contains(&0)));
    }

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/tests/fixtures/mail_content/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    #[test]
    fn raw_8bit_headers_read_in_the_declared_charset() {
        let m = parse(&fixture("cp1252-raw-subject.eml"), LIMIT);
        assert_eq!(m.subject, "Slamtömning – när kommer bilen?");
        assert_eq!(m.from_name.as_deref(), Some("Göran Ståhl"));
        assert!(
            m.text.contains("beställt slamtömning till Sjövägen"),
            "{}",
            m.text
        );
        assert!(m.problems.is_empty(), "{:?}", m.problems);
    }

    #[test]
    fn unknown_8bit_is_read_as_windows_1252() {
        let m = parse(&fixture("unknown-8bit.eml"), LIMIT);
        assert!(
            m.text
                .contains("Soptunnan på Storgatan 5 har inte tömts på två veckor"),
            "{}",
            m.text
        );
        assert!(!m.text.contains('\u{FFFD}'));
    }

    #[test]
    fn broken_parts_are_problems_not_attachments() {
        let m = parse(&fixture("bad-base64.eml"), LIMIT);
        assert_eq!(
            m.problems,
            vec![Problem::BadBase64 {
                part: "ansokan.pdf".into()
            }]
        );
        assert!(
            m.attachments.is_empty(),
            "{:?}",
            m.attachments
                .iter()
                .map(|a| &a.filename)
                .collect::<Vec<_>>()
        );
        let m = parse(&fixture("truncated.eml"), LIMIT);
        assert_eq!(
            m.problems,
            vec![Problem::Truncated {
                part: "gungan.jpg".into()
            }]
        );
        assert!(m.text.contains("Gungan i parken"), "{}", m.text);
    }

    #[test]
    fn forwarded_and_report_parts_get_names() {
        let m = parse(&fixture("forwarded.eml"), LIMIT);
        let names: Vec<_> = m
            .attachments
            .iter()
            .map(|a| (a.filename.as_str(), a.content_type.as_str()))
            .collect();
        assert_eq!(
            names,
            vec![("Fakturan för mars-april.eml", "message/rfc822")]
        );
        assert!(m.attachments[0].bytes.starts_with(b"From: Alby Energi"));
        let m = parse(&fixture("dsn.eml"), LIMIT);
        let names: Vec<_> = m.attachments.iter().map(|a| a.filename.as_str()).collect();
        assert_eq!(
            names,
            vec!["bilaga.txt", "bilaga.txt"],
            "{:?}",
            m.attachments
                .iter()
                .map(|a| &a.content_type)
                .collect::<Vec<_>>()
        );
        assert!(m.problems.is_empty(), "{:?}", m.problems);
        assert!(parse(&fixture("forwarded.eml"), LIMIT).problems.is_empty());
    }

    #[test]
    fn a_mail_with_nothing_to_say_is_not_a_broken_one() {
        for raw in [
            &b"From: a@example.org\r\nSubject: Tomt\r\n\r\n"[..],
            b"From: a@example.org\r\nSubject: Tomt\r\n",
            b"From: a@example.org\r\nSubject: x\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nHej\r\n--B--\r\n",
        ] {
            let m = parse(raw, LIMIT);
            assert!(m.problems.is_empty(), "{:?}: {:?}", String::from_utf8_lossy(raw), m.problems);
        }
    }
}
