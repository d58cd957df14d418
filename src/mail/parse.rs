//! Reading an incoming mail: whatever arrives (any charset, quoted-printable or base64, RFC 2047
//! words, multipart/alternative, HTML only, attachments, forwarded messages, or plain garbage) becomes
//! a `ParsedMail`. Parsing never fails and never panics: what cannot be read is noted in `problems`,
//! and the raw source is always kept by the caller.
//!
//! MIME and charsets are mail-parser's job (with `full_encoding`: ISO-8859-1/15, Windows-1252 …);
//! HTML is cleaned by ammonia before it is stored.

use mail_parser::{Address, HeaderValue, MessageParser, MimeHeaders};

use crate::domain::EmailAddress;

/// Why a mail is automatic and must never be acknowledged (RFC 3834 and common practice).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Automatic {
    /// `Auto-Submitted:` other than `no`.
    AutoSubmitted,
    /// `Precedence: bulk | junk | list`.
    Bulk,
    /// Mail from a mailing list (`List-Id`).
    MailingList,
    /// `X-Autoreply`, `X-Autorespond`, `X-Auto-Response-Suppress`.
    AutoReplyHeader,
    /// A delivery status notification (multipart/report, or from mailer-daemon / postmaster).
    Bounce,
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
    pub problems: Vec<String>,
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
                problems: vec!["the mail could not be parsed; the text is the raw source".into()],
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
    all(&mut p.problems);
    for a in &mut p.attachments {
        a.filename = clean(&a.filename);
        a.content_type = clean(&a.content_type);
        opt(&mut a.content_id);
    }
    p
}

fn parse_inner(raw: &[u8], max_attachment_bytes: usize) -> ParsedMail {
    let Some(msg) = MessageParser::default().parse(raw) else {
        return ParsedMail {
            text: String::from_utf8_lossy(raw).into_owned(),
            problems: vec!["not a readable e-mail; the text is the raw source".into()],
            ..Default::default()
        };
    };
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
            Some(Err(_)) | None => out
                .problems
                .push("the sender address is missing or unreadable".into()),
        }
    } else {
        out.problems.push("the mail has no From header".into());
    }

    out.text = msg.body_text(0).map(|t| t.into_owned()).unwrap_or_default();
    // Keep HTML only when there is a real HTML part (mail-parser also renders text as HTML).
    if msg.html_part(0).is_some_and(|p| p.is_text_html())
        && let Some(h) = msg.body_html(0)
    {
        out.html = Some(ammonia::clean(&h));
    }

    for part in msg.attachments() {
        let filename = part
            .attachment_name()
            .map(sanitize_filename)
            .unwrap_or_else(|| "bilaga".to_string());
        let content_type = part
            .content_type()
            .map(|c| match c.subtype() {
                Some(s) => format!("{}/{}", c.ctype(), s),
                None => c.ctype().to_string(),
            })
            .unwrap_or_else(|| "application/octet-stream".into());
        // A forwarded message/rfc822 part is kept whole, as an .eml attachment.
        let bytes: Vec<u8> = part.contents().to_vec();
        if bytes.len() > max_attachment_bytes {
            out.problems.push(format!(
                "attachment {filename} ({} bytes) is over the limit of {max_attachment_bytes} bytes; it is kept in the raw source",
                bytes.len()
            ));
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

/// The header Ärendo puts on every mail it sends, so that its own mail is never imported.
pub const ORIGIN_HEADER: &str = "X-Arendo-Origin";

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
            small.problems[0].contains("over the limit"),
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
        assert!(
            m.problems.iter().any(|p| p.contains("From")),
            "{:?}",
            m.problems
        );
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
}
