//! Bytes at the edge: what a request may carry before any handler sees it.
//!
//! - **Text is text.** The path, the query string and every URL-encoded or JSON body must be
//!   UTF-8 without control characters (C0 except tab, line feed and carriage return; DEL; C1).
//!   PostgreSQL cannot store NUL in text at all, SQLite would store it silently; both backends
//!   get the same clear 400 (`bad_input`) instead. The path and query are checked by the
//!   middleware [`guard`]; bodies are checked while they are read (the payload is wrapped in a
//!   scanner), so no route can skip the check and nothing is buffered twice.
//! - **Limits say what they mean.** Each route that takes a form or JSON body has a limit sized
//!   to its content ([`BODY_LIMITS`]: the largest valid content, percent-encoded, plus room for
//!   the other fields); a larger body is a 413 (`too_large`) that names the limit, not a CSRF
//!   failure. Content within the limit but over a field's own limit reaches the use case, whose
//!   refusal shows the form again with what was written.
//!
//! Multipart bodies (forms with files) are read by `web::uploads`, which has its own limit; only
//! their text fields are checked (with [`refuse_controls`]).

use std::pin::Pin;
use std::sync::LazyLock;
use std::task::{Context, Poll};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ResourceDef, ServiceRequest, ServiceResponse};
use actix_web::error::{JsonPayloadError, PayloadError, UrlencodedError};
use actix_web::http::{Method, header};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{HttpMessage, HttpRequest};
use futures_util::Stream;

use super::errors::{ApiError, Failure, PageError};

/// Largest URL-encoded form of a route not in [`BODY_LIMITS`].
pub const DEFAULT_FORM_LIMIT: usize = 64 * 1024;
/// Largest JSON body of a route not in [`BODY_LIMITS`].
pub const DEFAULT_JSON_LIMIT: usize = 64 * 1024;

/// Bytes a browser may send for `chars` characters of text: up to four UTF-8 bytes each, and
/// each byte percent-encoded as three.
const fn encoded(chars: usize) -> usize {
    chars * 4 * 3
}

/// Room for a form's small fields (CSRF token, names, choices).
const SMALL_FIELDS: usize = 8 * 1024;

/// A knowledge-base article: body in bytes, title, summary and tags in characters.
const KB_FORM: usize = 3 * crate::kb::article::MAX_BODY_BYTES
    + encoded(
        crate::kb::article::MAX_TITLE_CHARS
            + crate::kb::article::MAX_SUMMARY_CHARS
            + crate::kb::article::MAX_TAGS * (crate::kb::article::MAX_TAG_CHARS + 2),
    )
    + SMALL_FIELDS;
const CANNED_FORM: usize =
    encoded(crate::tickets::canned::MAX_BODY + crate::tickets::canned::MAX_TITLE) + SMALL_FIELDS;
const ACK_FORM: usize = encoded(crate::tenants::admin::MAX_ACK_TEMPLATE) + SMALL_FIELDS;
/// A referral answer: at most 20,000 characters (`referral::answer`).
const REFERRAL_ANSWER_FORM: usize = encoded(20_000) + SMALL_FIELDS;
/// An escalation target: its body template and custom headers.
const ESCALATION_FORM: usize = encoded(20_000) + SMALL_FIELDS;
/// An API ticket or message: a body of `tickets::MAX_BODY` characters as raw UTF-8 JSON.
const API_TICKET_JSON: usize = 4 * crate::tickets::MAX_BODY + 64 * 1024;

/// Body limits of the routes whose content is larger than the defaults: (method, route, bytes).
/// Routes are written as in their `#[post(..)]` attribute.
pub const BODY_LIMITS: &[(&str, &str, usize)] = &[
    ("POST", "/knowledge/new", KB_FORM),
    ("POST", "/knowledge/{slug}/edit", KB_FORM),
    ("POST", "/admin/canned", CANNED_FORM),
    ("POST", "/admin/canned/{id:\\d+}", CANNED_FORM),
    ("POST", "/admin/queues/{id:\\d+}/ack", ACK_FORM),
    ("POST", "/remiss/{token}/answer", REFERRAL_ANSWER_FORM),
    ("POST", "/admin/escalation", ESCALATION_FORM),
    ("POST", "/admin/escalation/{id:\\d+}", ESCALATION_FORM),
    ("POST", "/api/v1/tickets", API_TICKET_JSON),
    ("POST", "/api/v1/tickets/{number}/messages", API_TICKET_JSON),
];

/// The largest limit of any route: what actix's own extractors are configured with, so that the
/// per-route limit enforced here is the one that counts.
pub const MAX_BODY_LIMIT: usize = {
    let mut max = if DEFAULT_FORM_LIMIT > DEFAULT_JSON_LIMIT {
        DEFAULT_FORM_LIMIT
    } else {
        DEFAULT_JSON_LIMIT
    };
    let mut i = 0;
    while i < BODY_LIMITS.len() {
        if BODY_LIMITS[i].2 > max {
            max = BODY_LIMITS[i].2;
        }
        i += 1;
    }
    max
};

static ROUTES: LazyLock<Vec<(Method, ResourceDef, usize)>> = LazyLock::new(|| {
    BODY_LIMITS
        .iter()
        .map(|(m, p, n)| {
            (
                Method::from_bytes(m.as_bytes()).expect("a method"),
                ResourceDef::new(*p),
                *n,
            )
        })
        .collect()
});

/// The body limit of a request to `path`.
pub fn body_limit(method: &Method, path: &str, kind: BodyKind) -> usize {
    ROUTES
        .iter()
        .find(|(m, def, _)| m == method && def.is_match(path))
        .map(|(_, _, n)| *n)
        .unwrap_or(match kind {
            BodyKind::Form { .. } => DEFAULT_FORM_LIMIT,
            BodyKind::Json => DEFAULT_JSON_LIMIT,
        })
}

/// Why the edge refused a request. Travels inside a `PayloadError::Io` from the scanner to the
/// extractor's error handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("control character or invalid UTF-8 in the {0}")]
    BadBytes(Part),
    #[error("body larger than {limit} bytes")]
    TooLarge { limit: usize },
}

/// Where the bad bytes were.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Path,
    Query,
    Body,
}

impl std::fmt::Display for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Part::Path => "path",
            Part::Query => "query",
            Part::Body => "body",
        })
    }
}

impl From<Refusal> for Failure {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::BadBytes(part) => Failure::BadInput(part),
            Refusal::TooLarge { limit } => Failure::TooLarge { limit },
        }
    }
}

pub use crate::domain::text::{is_refused_char, strip_controls};

/// Refuse text fields (name, value) holding a refused character: for forms not read through
/// the scanner (multipart text fields).
pub fn refuse_controls<'a>(
    fields: impl IntoIterator<Item = &'a (String, String)>,
) -> Result<(), Failure> {
    for (n, v) in fields {
        if n.chars().chain(v.chars()).any(is_refused_char) {
            return Err(Failure::BadInput(Part::Body));
        }
    }
    Ok(())
}

/// What a body is, for the scanner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// URL-encoded; `utf8` unless the form names another charset.
    Form {
        utf8: bool,
    },
    Json,
}

fn body_kind(req: &ServiceRequest) -> Option<BodyKind> {
    let ct = req.headers().get(header::CONTENT_TYPE)?.to_str().ok()?;
    let mut parts = ct.split(';');
    let essence = parts.next()?.trim().to_ascii_lowercase();
    if essence == "application/x-www-form-urlencoded" {
        let utf8 = parts
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("charset"))
            .is_none_or(|(_, v)| v.trim().trim_matches('"').eq_ignore_ascii_case("utf-8"));
        Some(BodyKind::Form { utf8 })
    } else if essence.ends_with("/json") || essence.ends_with("+json") {
        Some(BodyKind::Json)
    } else {
        None
    }
}

/// Percent-decoding as `application/x-www-form-urlencoded` does it (an escape that is not one
/// stays literal), fed in pieces.
#[derive(Default)]
enum Pct {
    #[default]
    Plain,
    Percent,
    High(u8),
}

/// JSON string escapes, fed in pieces.
#[derive(Default)]
enum Esc {
    #[default]
    Plain,
    Backslash,
    Unicode {
        digits: u8,
        value: u32,
    },
}

/// Checks text as it streams by: UTF-8 (across chunk boundaries) without refused characters.
pub struct Scanner {
    kind: BodyKind,
    /// Bytes of an unfinished UTF-8 sequence.
    pending: Vec<u8>,
    pct: Pct,
    esc: Esc,
}

impl Scanner {
    pub fn new(kind: BodyKind) -> Scanner {
        Scanner {
            kind,
            pending: Vec::with_capacity(4),
            pct: Pct::Plain,
            esc: Esc::Plain,
        }
    }

    /// Check the next piece; false as soon as the text is bad.
    pub fn feed(&mut self, bytes: &[u8]) -> bool {
        bytes.iter().all(|&b| match self.kind {
            BodyKind::Form { .. } => self.form_byte(b),
            BodyKind::Json => self.json_byte(b),
        })
    }

    /// The end of the text: nothing may be left unfinished.
    pub fn finish(&mut self) -> bool {
        let ok = match std::mem::take(&mut self.pct) {
            Pct::Plain => true,
            Pct::Percent => self.decoded(b'%'),
            Pct::High(h) => self.decoded(b'%') && self.decoded(h),
        };
        ok && self.pending.is_empty()
    }

    fn form_byte(&mut self, b: u8) -> bool {
        match std::mem::take(&mut self.pct) {
            Pct::Plain if b == b'%' => {
                self.pct = Pct::Percent;
                true
            }
            Pct::Plain => self.decoded(b),
            Pct::Percent if b.is_ascii_hexdigit() => {
                self.pct = Pct::High(b);
                true
            }
            Pct::Percent => self.decoded(b'%') && self.form_byte(b),
            Pct::High(h) if b.is_ascii_hexdigit() => self.decoded(hex(h) << 4 | hex(b)),
            Pct::High(h) => self.decoded(b'%') && self.decoded(h) && self.form_byte(b),
        }
    }

    fn json_byte(&mut self, b: u8) -> bool {
        match std::mem::take(&mut self.esc) {
            Esc::Plain if b == b'\\' => self.esc = Esc::Backslash,
            Esc::Plain => {}
            Esc::Backslash => match b {
                b'u' => {
                    self.esc = Esc::Unicode {
                        digits: 0,
                        value: 0,
                    }
                }
                // Backspace and form feed are control characters too.
                b'b' | b'f' => return false,
                _ => {}
            },
            Esc::Unicode { digits, value } if b.is_ascii_hexdigit() => {
                let value = value << 4 | u32::from(hex(b));
                if digits == 3 {
                    if char::from_u32(value).is_some_and(is_refused_char) {
                        return false;
                    }
                } else {
                    self.esc = Esc::Unicode {
                        digits: digits + 1,
                        value,
                    };
                }
            }
            // Not JSON: the parser refuses it.
            Esc::Unicode { .. } => {}
        }
        self.decoded(b)
    }

    /// One byte of the decoded text.
    fn decoded(&mut self, b: u8) -> bool {
        if let BodyKind::Form { utf8: false } = self.kind {
            // Another charset: its control characters are the ASCII ones.
            return !(b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r') || b == 0x7f);
        }
        if self.pending.is_empty() && b.is_ascii() {
            return !is_refused_char(char::from(b));
        }
        self.pending.push(b);
        match std::str::from_utf8(&self.pending) {
            Ok(s) => {
                let bad = s.chars().any(is_refused_char);
                self.pending.clear();
                !bad
            }
            Err(e) => e.error_len().is_none() && self.pending.len() < 4,
        }
    }
}

fn hex(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        _ => b - b'A' + 10,
    }
}

/// Whether a percent-encoded piece of a URL (path or query) is clean text.
pub fn clean_url_part(s: &str) -> bool {
    let mut sc = Scanner::new(BodyKind::Form { utf8: true });
    sc.feed(s.as_bytes()) && sc.finish()
}

/// A body stream that is checked and counted while it is read.
struct Scanned {
    inner: Payload,
    scanner: Scanner,
    limit: usize,
    read: usize,
    done: bool,
}

fn refused(r: Refusal) -> PayloadError {
    PayloadError::Io(std::io::Error::new(std::io::ErrorKind::InvalidData, r))
}

impl Stream for Scanned {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        let next = match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(next) => next,
        };
        let out = match next {
            Some(Ok(chunk)) => {
                this.read += chunk.len();
                if this.read > this.limit {
                    Some(Err(refused(Refusal::TooLarge { limit: this.limit })))
                } else if !this.scanner.feed(&chunk) {
                    Some(Err(refused(Refusal::BadBytes(Part::Body))))
                } else {
                    return Poll::Ready(Some(Ok(chunk)));
                }
            }
            Some(Err(e)) => Some(Err(e)),
            None if !this.scanner.finish() => Some(Err(refused(Refusal::BadBytes(Part::Body)))),
            None => None,
        };
        this.done = true;
        Poll::Ready(out)
    }
}

/// The middleware: refuse a bad path or query at once, and wrap a form or JSON body in the
/// scanner with its route's limit (a declared length over the limit is refused at once).
pub async fn guard(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let refusal = if !clean_url_part(req.path()) {
        Some(Refusal::BadBytes(Part::Path))
    } else if !clean_url_part(req.query_string()) {
        Some(Refusal::BadBytes(Part::Query))
    } else if let Some(kind) = body_kind(&req) {
        let limit = body_limit(req.method(), req.path(), kind);
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if declared.is_some_and(|n| n > limit) {
            Some(Refusal::TooLarge { limit })
        } else {
            let inner = req.take_payload();
            let scanned = Scanned {
                inner,
                scanner: Scanner::new(kind),
                limit,
                read: 0,
                done: false,
            };
            req.set_payload(Payload::Stream {
                payload: Box::pin(scanned),
            });
            None
        }
    } else {
        None
    };
    if let Some(r) = refusal {
        tracing::info!(path = %redacted_path(req.path()), refusal = %r, "request refused at the edge");
        let resp = refusal_error(req.request(), r.into()).error_response();
        return Ok(req.into_response(resp).map_into_right_body());
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

/// The path for a log line: only its first segment (the rest may hold a link token or the bad
/// bytes themselves).
fn redacted_path(path: &str) -> String {
    let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
    if clean_url_part(first) {
        format!("/{first}/…")
    } else {
        "/…".into()
    }
}

/// A failure as the caller's kind of route answers it: JSON under `/api/`, a page elsewhere.
pub fn refusal_error(req: &HttpRequest, f: Failure) -> actix_web::Error {
    if req.path().starts_with("/api/") {
        ApiError(f).into()
    } else {
        PageError::from(f).into()
    }
}

/// What the edge said about a payload error, if it was the edge.
fn payload_refusal(e: &PayloadError) -> Option<Refusal> {
    match e {
        PayloadError::Io(io) => io
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<Refusal>())
            .copied(),
        PayloadError::Overflow => Some(Refusal::TooLarge {
            limit: MAX_BODY_LIMIT,
        }),
        _ => None,
    }
}

/// A URL-encoded form that could not be read: too large or bad bytes as such, anything else as
/// `otherwise` (a form that cannot be read cannot be trusted).
pub fn form_failure(e: &UrlencodedError, otherwise: Failure) -> Failure {
    match e {
        UrlencodedError::Payload(p) => payload_refusal(p).map(Failure::from),
        UrlencodedError::Overflow { limit, .. } => Some(Failure::TooLarge { limit: *limit }),
        _ => None,
    }
    .unwrap_or(otherwise)
}

/// A JSON body that could not be read.
pub fn json_failure(e: &JsonPayloadError) -> Failure {
    match e {
        JsonPayloadError::Payload(p) => payload_refusal(p).map(Failure::from),
        JsonPayloadError::Overflow { limit }
        | JsonPayloadError::OverflowKnownLength { limit, .. } => {
            Some(Failure::TooLarge { limit: *limit })
        }
        JsonPayloadError::ContentType => Some(Failure::BadJson {
            field: String::new(),
            problem: super::api::json::JsonProblem::NotJson,
            detail: e.to_string(),
        }),
        JsonPayloadError::Deserialize(d) if d.is_syntax() || d.is_eof() => Some(Failure::BadJson {
            field: String::new(),
            problem: super::api::json::JsonProblem::Syntax {
                line: d.line(),
                column: d.column(),
            },
            detail: d.to_string(),
        }),
        _ => None,
    }
    .unwrap_or_else(|| Failure::BadRequest(e.to_string()))
}

/// actix's form extractor (`web::Form`) for the whole app: the largest limit (the route's own
/// is enforced by the scanner), failures mapped like `CsrfForm` maps them.
pub fn form_config() -> actix_web::web::FormConfig {
    actix_web::web::FormConfig::default()
        .limit(MAX_BODY_LIMIT)
        .error_handler(|e, req| refusal_error(req, form_failure(&e, Failure::Csrf)))
}

/// actix's JSON extractor for the whole app.
pub fn json_config() -> actix_web::web::JsonConfig {
    actix_web::web::JsonConfig::default()
        .limit(MAX_BODY_LIMIT)
        .error_handler(|e, req| refusal_error(req, json_failure(&e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(s: &str) -> bool {
        let mut sc = Scanner::new(BodyKind::Form { utf8: true });
        sc.feed(s.as_bytes()) && sc.finish()
    }

    fn json(s: &[u8]) -> bool {
        let mut sc = Scanner::new(BodyKind::Json);
        sc.feed(s) && sc.finish()
    }

    #[test]
    fn forms_must_decode_to_clean_utf8() {
        assert!(form("name=G%C3%B6ran+%C3%85berg&text=rad1%0D%0Arad2%09x"));
        assert!(form("a=100%&b=%zz&c=%"));
        assert!(form("a=%E2%82%AC"));
        assert!(!form("tenant=exem%00pel"));
        assert!(!form("a=%1b[31m"));
        assert!(!form("a=%7F"));
        assert!(!form("a=%C2%85"), "C1 control NEL");
        assert!(!form("a=%FF"));
        assert!(!form("a=%C3"), "unfinished sequence at the end");
        assert!(!form("a=%C3x"));
        assert!(!form("a=\u{1}"));
        assert!(!form("a=%ED%A0%80"), "a surrogate is not UTF-8");
    }

    #[test]
    fn pieces_may_split_anywhere() {
        let text = "namn=%C3%85sa+%E2%82%AC&x=%00";
        for cut in 0..text.len() {
            let mut sc = Scanner::new(BodyKind::Form { utf8: true });
            let ok = sc.feed(&text.as_bytes()[..cut]) && sc.feed(&text.as_bytes()[cut..]);
            assert!(!(ok && sc.finish()), "cut at {cut}");
        }
        let good = "namn=%C3%85sa+%E2%82%AC";
        for cut in 0..good.len() {
            let mut sc = Scanner::new(BodyKind::Form { utf8: true });
            assert!(sc.feed(&good.as_bytes()[..cut]) && sc.feed(&good.as_bytes()[cut..]));
            assert!(sc.finish(), "cut at {cut}");
        }
    }

    #[test]
    fn json_escapes_of_controls_are_refused() {
        assert!(json(br#"{"body":"rad1\nrad2\t\r \u00e5 \\u0000 \"x\""}"#));
        assert!(json("{\"body\":\"Åsa €\"}".as_bytes()));
        assert!(!json(br#"{"body":"a\u0000b"}"#));
        assert!(!json(br#"{"body":"a\u001B"}"#));
        assert!(!json(br#"{"body":"a\u007f"}"#));
        assert!(!json(br#"{"body":"a\b"}"#));
        assert!(!json(br#"{"body":"a\\\u0000"}"#));
        assert!(!json(b"{\"body\":\"a\x00\"}"));
        assert!(!json(b"{\"body\":\"a\xff\"}"));
    }

    #[test]
    fn other_charsets_are_checked_for_ascii_controls() {
        let mut sc = Scanner::new(BodyKind::Form { utf8: false });
        assert!(sc.feed(b"namn=%E5sa") && sc.finish());
        let mut sc = Scanner::new(BodyKind::Form { utf8: false });
        assert!(!sc.feed(b"namn=%00"));
    }

    #[test]
    fn limits_follow_the_route() {
        let post = Method::POST;
        let form = BodyKind::Form { utf8: true };
        assert_eq!(
            body_limit(&post, "/knowledge/ny-artikel/edit", form),
            KB_FORM
        );
        assert_eq!(body_limit(&post, "/admin/canned/12", form), CANNED_FORM);
        assert_eq!(
            body_limit(&post, "/admin/canned/x", form),
            DEFAULT_FORM_LIMIT
        );
        assert_eq!(
            body_limit(&Method::GET, "/knowledge/new", form),
            DEFAULT_FORM_LIMIT
        );
        const { assert!(KB_FORM > 3 * 200_000) };
        assert_eq!(MAX_BODY_LIMIT, API_TICKET_JSON.max(KB_FORM));
    }
}
