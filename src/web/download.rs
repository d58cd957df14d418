//! Serving a stored file (an attachment from a mail, a reply or the status page) so that it
//! cannot act in our origin: whatever its name or declared type, a browser gets
//!
//! - a content type from a short safe list (images a browser shows as images, PDF, plain text,
//!   older office documents, zip, audio and video; the file name keeps the rest), else `application/octet-stream` — never HTML,
//!   SVG, XML or script, so `<script src>` and `<link href>` to it do nothing (with `nosniff`);
//! - `Content-Security-Policy: sandbox`, so a file opened in a tab runs nothing and has no origin;
//! - `Cross-Origin-Resource-Policy: same-origin`, so other sites cannot embed it;
//! - `Content-Disposition: attachment` with the name per RFC 6266: an ASCII `filename` and the
//!   real name as UTF-8 in `filename*` (RFC 8187);
//! - `Cache-Control: no-store` (personal data stays out of shared and browser caches).
//!
//! Every route that answers with a stored file's bytes calls [`file_response`].

use actix_web::HttpResponse;
use actix_web::http::header;

/// Types served as they are. Anything else is served as `application/octet-stream`.
const SAFE_TYPES: &[&str] = &[
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/avif",
    "image/bmp",
    "image/tiff",
    "application/pdf",
    "text/plain",
    "text/csv",
    "audio/mpeg",
    "audio/ogg",
    "audio/wav",
    "video/mp4",
    "video/webm",
    "application/zip",
    "application/msword",
    "application/vnd.ms-excel",
    "application/vnd.ms-powerpoint",
    "application/rtf",
];

/// The content type a stored file is served with.
pub fn served_type(stored: &str) -> &'static str {
    let essence = stored
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if let Some(t) = SAFE_TYPES.iter().find(|t| **t == essence) {
        return t;
    }
    "application/octet-stream"
}

/// `Content-Disposition: attachment` for `name` (RFC 6266): an ASCII fallback `filename` and the
/// exact name, percent-encoded UTF-8, in `filename*`.
pub fn content_disposition(name: &str) -> String {
    let name: String = name.chars().filter(|c| !c.is_control()).collect();
    let name = if name.trim().is_empty() {
        "file".to_string()
    } else {
        name
    };
    let fallback: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut ext = String::with_capacity(name.len() * 3);
    for b in name.bytes() {
        // attr-char of RFC 8187: ALPHA / DIGIT / "!#$&+-.^_`|~"
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            ext.push(char::from(b));
        } else {
            ext.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{ext}")
}

/// The response for a stored file's bytes.
pub fn file_response(filename: &str, stored_type: &str, bytes: Vec<u8>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, served_type(stored_type)))
        .insert_header((header::CONTENT_DISPOSITION, content_disposition(filename)))
        .insert_header((header::CONTENT_SECURITY_POLICY, "sandbox"))
        .insert_header(("cross-origin-resource-policy", "same-origin"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_inert_types_pass() {
        assert_eq!(served_type("image/PNG"), "image/png");
        assert_eq!(
            served_type("application/pdf; name=x.pdf"),
            "application/pdf"
        );
        assert_eq!(served_type("text/plain; charset=iso-8859-1"), "text/plain");
        for bad in [
            "application/javascript",
            "text/javascript",
            "text/html",
            "image/svg+xml",
            "application/xhtml+xml",
            "text/xml",
            "application/x-shockwave-flash",
            "text/css",
            "multipart/x-mixed-replace",
            "",
            "garbage",
        ] {
            assert_eq!(served_type(bad), "application/octet-stream", "{bad}");
        }
    }

    #[test]
    fn names_per_rfc_6266() {
        assert_eq!(
            content_disposition("Bygglov ansökan.pdf"),
            "attachment; filename=\"Bygglov ans_kan.pdf\"; filename*=UTF-8''Bygglov%20ans%C3%B6kan.pdf"
        );
        assert_eq!(
            content_disposition("a\"b\\c\r\n.txt"),
            "attachment; filename=\"a_b_c.txt\"; filename*=UTF-8''a%22b%5Cc.txt"
        );
        assert_eq!(
            content_disposition(""),
            "attachment; filename=\"file\"; filename*=UTF-8''file"
        );
    }
}
