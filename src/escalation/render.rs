//! The request to a records system: the body from the target's handlebars template (escaped for
//! JSON or XML by its content type), the headers (auth, idempotency key, signature), and the case
//! number read back from the response.

use secrecy::ExposeSecret;
use serde::Serialize;

pub use crate::delivery::http::{body_of, case_number, check_template, signature};
use crate::domain::{TenantId, TicketId};
use crate::error::Result;
use crate::secrets::Keys;
use crate::store::{self, Conn};

/// The built-in body: a JSON document with the ticket, the contact, the public conversation and
/// links to the attachments.
pub const DEFAULT_TEMPLATE: &str = include_str!("../../templates/escalation/records.json.hbs");

/// What a body template can use.
#[derive(Debug, Clone, Serialize)]
pub struct Input {
    pub ticket: TicketData,
    pub contact: Option<ContactData>,
    /// The citizen's messages and the replies (internal notes are never sent).
    pub messages: Vec<MessageData>,
    pub attachments: Vec<AttachmentData>,
    pub escalation: EscalationData,
}

#[derive(Debug, Clone, Serialize)]
pub struct TicketData {
    pub number: String,
    pub subject: String,
    pub status: String,
    pub priority: String,
    pub queue: String,
    pub created_at: String,
    pub link: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ContactData {
    pub name: String,
    pub email: String,
    pub phone: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct MessageData {
    /// `inbound` (from the citizen) or `outbound` (our reply).
    pub kind: String,
    pub from: String,
    pub at: String,
    pub subject: String,
    pub text: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct AttachmentData {
    pub filename: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub url: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct EscalationData {
    pub key: String,
    pub reason: String,
    pub created_at: String,
}

fn iso(t: chrono::NaiveDateTime) -> String {
    t.and_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl Input {
    pub fn load(
        c: &mut Conn,
        t: TenantId,
        ticket: TicketId,
        e: &store::escalation::Escalation,
        public_url: &str,
    ) -> Result<Input> {
        let tk = store::tickets::get(c, t, ticket)?;
        let queue = store::queues::list(c, t)?
            .into_iter()
            .find(|q| q.id == tk.queue_id)
            .map(|q| q.name)
            .unwrap_or_default();
        let contact = match tk.contact_id {
            Some(id) => store::contacts::get(c, t, id)?,
            None => None,
        };
        let base = public_url.trim_end_matches('/');
        let messages = store::tickets::messages(c, t, ticket)?
            .into_iter()
            .filter(|m| m.kind != "note")
            .map(|m| MessageData {
                kind: m.kind,
                from: m.from_addr.unwrap_or_default(),
                at: iso(m.created_at),
                subject: m.subject,
                text: m.body_text,
            })
            .collect();
        let attachments = store::tickets::attachments(c, t, ticket)?
            .into_iter()
            .map(|a| AttachmentData {
                url: format!("{base}/api/v1/tickets/{}/attachments/{}", tk.number, a.id),
                filename: a.filename,
                content_type: a.content_type,
                size_bytes: a.size_bytes,
            })
            .collect();
        Ok(Input {
            ticket: TicketData {
                link: format!("{base}/tickets/{}", tk.number),
                number: tk.number.to_string(),
                subject: tk.subject,
                status: tk.status.as_str().into(),
                priority: tk.priority.as_str().into(),
                queue,
                created_at: iso(tk.created_at),
            },
            contact: contact.map(|c| ContactData {
                name: c.name.unwrap_or_default(),
                email: c.email.unwrap_or_default(),
                phone: c.phone.unwrap_or_default(),
            }),
            messages,
            attachments,
            escalation: EscalationData {
                key: e.idempotency_key.clone(),
                reason: e.reason.clone(),
                created_at: iso(e.created_at),
            },
        })
    }
}

/// The body for `input` under the target's template (empty: the built-in records body).
pub fn body(template: &str, content_type: &str, input: &Input) -> Result<String, String> {
    let template = if template.trim().is_empty() {
        DEFAULT_TEMPLATE
    } else {
        template
    };
    body_of(template, content_type, input)
}

/// A request ready to send.
#[derive(Debug, Clone)]
pub struct Request {
    pub url: String,
    pub content_type: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// The request for one attempt. Errors are permanent (a broken template or sealed secret does
/// not heal by waiting).
pub fn request(
    target: &store::escalation::Target,
    keys: &Keys,
    input: &Input,
) -> Result<Request, String> {
    let url = target.url.clone().ok_or("the target has no address")?;
    let body = body(&target.body_template, &target.content_type, input)?;
    let open = |sealed: &Option<String>| -> Result<Option<String>, String> {
        sealed
            .as_deref()
            .map(|s| {
                keys.open(s)
                    .map(|x| x.expose_secret().to_string())
                    .map_err(|e| format!("stored secret unreadable: {e}"))
            })
            .transpose()
    };
    let mut headers: Vec<(String, String)> =
        serde_json::from_str::<std::collections::BTreeMap<String, String>>(&target.headers)
            .map_err(|e| format!("stored headers unreadable: {e}"))?
            .into_iter()
            .collect();
    // Secret headers (e.g. X-Api-Key): sealed in the database, opened only here.
    let secret: std::collections::BTreeMap<String, String> =
        serde_json::from_str(&target.secret_headers)
            .map_err(|e| format!("stored secret headers unreadable: {e}"))?;
    for (k, sealed) in secret {
        let v = open(&Some(sealed))?.unwrap_or_default();
        headers.push((k, v));
    }
    match target.auth.as_str() {
        "bearer" => {
            let token = open(&target.auth_secret)?.ok_or("no bearer token stored")?;
            headers.push(("Authorization".into(), format!("Bearer {token}")));
        }
        "basic" => {
            use base64::Engine as _;
            let user = target.auth_user.clone().unwrap_or_default();
            let pass = open(&target.auth_secret)?.unwrap_or_default();
            let b64 = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
            headers.push(("Authorization".into(), format!("Basic {b64}")));
        }
        _ => {}
    }
    headers.push(("Idempotency-Key".into(), input.escalation.key.clone()));
    if let Some(secret) = open(&target.hmac_secret)? {
        headers.push((
            "X-Arendo-Signature".into(),
            signature(secret.as_bytes(), body.as_bytes()),
        ));
    }
    Ok(Request {
        url,
        content_type: target.content_type.clone(),
        headers,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> Input {
        Input {
            ticket: TicketData {
                number: "KC-2026-000007".into(),
                subject: "Läcka \"akut\" <här>".into(),
                status: "open".into(),
                priority: "high".into(),
                queue: "VA".into(),
                created_at: "2026-11-27T08:00:00Z".into(),
                link: "https://arendo.example/tickets/KC-2026-000007".into(),
            },
            contact: Some(ContactData {
                name: "Per Holm".into(),
                email: "per@example.org".into(),
                phone: String::new(),
            }),
            messages: vec![MessageData {
                kind: "inbound".into(),
                from: "per@example.org".into(),
                at: "2026-11-27T08:00:00Z".into(),
                subject: "Läcka".into(),
                text: "Rad ett\nRad två \\ slut".into(),
            }],
            attachments: vec![],
            escalation: EscalationData {
                key: "k1".into(),
                reason: "Behöver diarieföras".into(),
                created_at: "2026-11-27T09:00:00Z".into(),
            },
        }
    }

    #[test]
    fn the_built_in_body_is_valid_json_with_everything_escaped() {
        let b = body("", "application/json", &input()).unwrap();
        let v: serde_json::Value = serde_json::from_str(&b).unwrap();
        assert_eq!(v["ticket"]["subject"], "Läcka \"akut\" <här>");
        assert_eq!(v["messages"][0]["text"], "Rad ett\nRad två \\ slut");
        assert_eq!(v["contact"]["name"], "Per Holm");
        assert_eq!(v["idempotencyKey"], "k1");
    }

    #[test]
    fn xml_bodies_are_escaped_for_xml() {
        let b = body(
            "<arende><rubrik>{{ticket.subject}}</rubrik></arende>",
            "application/xml",
            &input(),
        )
        .unwrap();
        assert_eq!(
            b,
            "<arende><rubrik>Läcka &quot;akut&quot; &lt;här&gt;</rubrik></arende>"
        );
    }

    #[test]
    fn a_template_that_breaks_json_is_refused() {
        let e = body("{\"a\": {{ticket.subject}}}", "application/json", &input()).unwrap_err();
        assert!(e.contains("valid JSON"), "{e}");
        assert!(check_template("{{#if}}").is_err());
        let e = body("{\"a\": \"{{nope}}\"}", "application/json", &input()).unwrap_err();
        assert!(e.contains("nope"), "strict: unknown fields are errors: {e}");
    }

    #[test]
    fn signature_is_hmac_sha256_of_the_body() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn case_numbers_are_read_by_pointer() {
        assert_eq!(
            case_number(r#"{"caseNumber":"KS 2026/123"}"#, "/caseNumber").unwrap(),
            "KS 2026/123"
        );
        assert_eq!(
            case_number(r#"{"data":{"id":42}}"#, "/data/id").unwrap(),
            "42"
        );
        assert!(
            case_number(r#"{"x":1}"#, "/caseNumber")
                .unwrap_err()
                .contains("/caseNumber")
        );
        assert!(
            case_number("<ok/>", "/caseNumber")
                .unwrap_err()
                .contains("not JSON")
        );
    }
}
