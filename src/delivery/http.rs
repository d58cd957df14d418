//! Outgoing HTTP bodies from a tenant's templates — the records-system request (`escalation`)
//! and the SMS gateway's `http` provider (`notify::sms`): handlebars escaped for the content type,
//! an HMAC signature, a value read back from a JSON answer. Addresses pass the egress policy.

use std::sync::LazyLock;

use handlebars::Handlebars;
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;

use crate::domain::{InvalidValue, Reason};
use crate::error::{Error, Result};

/// JSON string content: the template writes the quotes, `{{x}}` fills in what goes between.
fn json_escape(s: &str) -> String {
    let quoted = serde_json::to_string(s).unwrap_or_default();
    quoted[1..quoted.len() - 1].to_string()
}

static JSON: LazyLock<Handlebars<'static>> = LazyLock::new(|| {
    let mut hb = Handlebars::new();
    hb.set_strict_mode(true);
    hb.register_escape_fn(json_escape);
    hb
});

static XML: LazyLock<Handlebars<'static>> = LazyLock::new(|| {
    let mut hb = Handlebars::new();
    hb.set_strict_mode(true);
    // The default escape (& < > " ' ` =) is also right for XML text and attributes.
    hb
});

fn is_json(content_type: &str) -> bool {
    content_type.contains("json")
}

/// A body template must compile (an empty one means the built-in body).
pub fn check_template(template: &str) -> Result<(), InvalidValue> {
    if template.trim().is_empty() {
        return Ok(());
    }
    handlebars::Template::compile(template)
        .map(|_| ())
        .map_err(|e| InvalidValue::new("body_template", Reason::template_at(e.pos())))
}

/// Any data under a handlebars template, escaped for the content type (JSON string escaping for
/// JSON, XML escaping otherwise); a JSON body must parse. Also the SMS `http` provider's body.
pub fn body_of<T: Serialize>(
    template: &str,
    content_type: &str,
    input: &T,
) -> Result<String, String> {
    let hb = if is_json(content_type) { &JSON } else { &XML };
    let body = hb
        .render_template(template, input)
        .map_err(|e| format!("body template: {e}"))?;
    if is_json(content_type) {
        serde_json::from_str::<serde_json::Value>(&body)
            .map_err(|e| format!("the body template does not make valid JSON: {e}"))?;
    }
    Ok(body)
}

/// `sha256=<hex>`: HMAC-SHA256 of `body` with `secret`.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The case number at `pointer` in a JSON response (a string or a number).
pub fn case_number(response: &str, pointer: &str) -> Result<String, String> {
    let v: serde_json::Value = serde_json::from_str(response)
        .map_err(|e| format!("the answer is not JSON ({e}); cannot read the case number"))?;
    let found = v
        .pointer(pointer)
        .ok_or_else(|| format!("the answer has nothing at {pointer}"))?;
    let text = match found {
        serde_json::Value::String(s) => s.trim().to_string(),
        serde_json::Value::Number(n) => n.to_string(),
        other => {
            let shown = other.to_string();
            let shown = crate::egress::truncate(&shown, crate::egress::MAX_ERROR_BODY);
            return Err(format!("{pointer} is {shown}, not a case number"));
        }
    };
    if text.is_empty() || text.chars().count() > 100 {
        return Err(format!("{pointer} holds no usable case number"));
    }
    Ok(text)
}

/// An address written as an IP address that the egress policy refuses is refused when it is
/// saved (a host name is checked when it is resolved, at every delivery).
pub fn refuse_literal(egress: &crate::egress::Policy, url: &str) -> Result<()> {
    match egress.check_url(url) {
        Err(crate::egress::EgressError::Refused(r)) => Err(Error::Egress(r)),
        // Not an address at all: the target's own validation says so.
        _ => Ok(()),
    }
}
