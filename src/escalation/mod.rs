//! Escalation (eskalering): sending a ticket on when the front line cannot finish it.
//!
//! This part: a case in the municipality's records system (diariet) over HTTP. An agent's
//! "Eskalera" (or an SLA breach rule) writes the escalation and an outbox item in the same
//! transaction as its history event; the outbox worker delivers it (`deliver`), retrying with
//! backoff; every attempt is in the ticket's history. Each escalation has an idempotency key sent
//! with every attempt, so a records system that honours it creates one case however often it is
//! asked (delivery is at-least-once). The case number in the response (a JSON pointer) is kept on
//! the ticket as its diarienummer.
//!
//! Requests carry `Idempotency-Key`, `X-Arendo-Signature: sha256=<hex>` (HMAC-SHA256 of the exact
//! body with the target's shared secret, when it has one) and the target's auth and headers.

pub mod admin;
mod referral_target;
pub mod render;

pub use referral_target::{
    REFERRAL_DEADLINE_KIND, REFERRAL_MAIL_KIND, ReferralTarget, save_target as save_referral_target,
};

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::json;

use crate::domain::FormatKind;
use crate::domain::Reason;
use crate::domain::{InvalidValue, TenantId, TicketId};
use crate::egress::{EgressError, Policy};
use crate::error::{Error, Result};
use crate::outbox::DeliveryError;
use crate::secrets::Keys;
use crate::store::{self, Conn, Db};

/// The outbox kind of an escalation to deliver; the payload is `{"escalation": id, "target": id}`
/// (the target names the item's delivery lane).
pub const OUTBOX_KIND: &str = "escalation";

/// How a target authenticates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    None,
    Bearer(String),
    Basic(String, String),
}

/// A records-system target as an operator describes it.
#[derive(Debug, Clone)]
pub struct RecordsTarget {
    pub name: String,
    pub url: String,
    pub method: String,
    pub headers: BTreeMap<String, String>,
    /// Headers whose values are secret (e.g. `X-Api-Key`): sealed when stored, never shown.
    pub secret_headers: BTreeMap<String, String>,
    pub auth: Auth,
    /// Shared secret for the signature header (none: requests are not signed).
    pub hmac_secret: Option<String>,
    pub content_type: String,
    /// Handlebars; empty: the built-in JSON body.
    pub body_template: String,
    /// JSON pointer to the case number in the response.
    pub case_pointer: String,
    pub timeout_seconds: i32,
}

impl RecordsTarget {
    fn validate(&self) -> Result<(), InvalidValue> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 80 {
            return Err(InvalidValue::new(
                "name",
                Reason::Length { min: 1, max: 80 },
            ));
        }
        let url = url::Url::parse(&self.url).map_err(|_| {
            InvalidValue::new("url", Reason::format(self.url.as_str(), FormatKind::Url))
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(InvalidValue::new(
                "url",
                Reason::format(self.url.as_str(), FormatKind::UrlHttp),
            ));
        }
        if !matches!(self.method.as_str(), "POST" | "PUT") {
            return Err(InvalidValue::new(
                "method",
                Reason::one_of(&["POST", "PUT"]),
            ));
        }
        for (field, list) in [
            ("headers", &self.headers),
            ("secret_headers", &self.secret_headers),
        ] {
            for (k, v) in list {
                reqwest::header::HeaderName::from_bytes(k.as_bytes()).map_err(|_| {
                    InvalidValue::new(field, Reason::format(k.as_str(), FormatKind::HeaderName))
                })?;
                reqwest::header::HeaderValue::from_str(v).map_err(|_| {
                    InvalidValue::new(
                        field,
                        Reason::HeaderValue {
                            name: k.to_string(),
                        },
                    )
                })?;
            }
        }
        if let Some(k) = self
            .secret_headers
            .keys()
            .find(|k| self.headers.keys().any(|h| h.eq_ignore_ascii_case(k)))
        {
            return Err(InvalidValue::new(
                "secret_headers",
                Reason::SecretAlsoPlain {
                    name: k.to_string(),
                },
            ));
        }
        if !self.case_pointer.is_empty() && !self.case_pointer.starts_with('/') {
            return Err(InvalidValue::new(
                "case_pointer",
                Reason::format(self.case_pointer.as_str(), FormatKind::JsonPointer),
            ));
        }
        if !(1..=120).contains(&self.timeout_seconds) {
            return Err(InvalidValue::new(
                "timeout_seconds",
                Reason::Range { min: 1, max: 120 },
            ));
        }
        render::check_template(&self.body_template)?;
        Ok(())
    }
}

/// Create or replace a records-system target of the tenant (by name). Secrets are sealed with
/// the installation's key before they are stored.
pub fn save_records_target(
    c: &mut Conn,
    keys: &Keys,
    t: TenantId,
    target: &RecordsTarget,
) -> Result<i64> {
    target.validate()?;
    let headers =
        serde_json::to_string(&target.headers).map_err(|e| Error::Internal(e.to_string()))?;
    let (auth, user, secret) = match &target.auth {
        Auth::None => ("none", None, None),
        Auth::Bearer(token) => ("bearer", None, Some(keys.seal(token))),
        Auth::Basic(u, p) => ("basic", Some(u.as_str()), Some(keys.seal(p))),
    };
    let hmac = target.hmac_secret.as_deref().map(|s| keys.seal(s));
    let sealed: BTreeMap<&String, String> = target
        .secret_headers
        .iter()
        .map(|(k, v)| (k, keys.seal(v)))
        .collect();
    let secret_headers =
        serde_json::to_string(&sealed).map_err(|e| Error::Internal(e.to_string()))?;
    Ok(store::escalation::save_target(
        c,
        t,
        &store::escalation::TargetRow {
            name: target.name.trim(),
            kind: "records",
            url: Some(&target.url),
            method: &target.method,
            headers: &headers,
            secret_headers: &secret_headers,
            auth,
            auth_user: user,
            auth_secret: secret.as_deref(),
            hmac_secret: hmac.as_deref(),
            content_type: &target.content_type,
            body_template: &target.body_template,
            case_pointer: &target.case_pointer,
            timeout_seconds: target.timeout_seconds,
        },
        store::now(),
    )?)
}

/// Whether a header's name says its value is a credential (`X-Api-Key`, `Authorization`,
/// `X-Auth-Token`, …).
pub fn looks_secret(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "key",
        "token",
        "secret",
        "password",
        "passwd",
        "auth",
        "credential",
        "signature",
        "cookie",
    ]
    .iter()
    .any(|w| n.contains(w))
}

/// Targets stored before headers could be secret: their secret-looking plain headers are
/// sealed and moved to the secret ones (at start; a no-op once done). Returns how many
/// headers were sealed.
pub async fn seal_existing_secret_headers(db: &Db, keys: Arc<Keys>) -> Result<usize> {
    db.write(move |c| -> Result<usize> {
        let mut n = 0;
        for (t, id, plain, secret) in store::escalation::with_plain_headers(c)? {
            let plain: BTreeMap<String, String> = serde_json::from_str(&plain).unwrap_or_default();
            let mut secret: BTreeMap<String, String> =
                serde_json::from_str(&secret).unwrap_or_default();
            let (moved, kept): (BTreeMap<_, _>, BTreeMap<_, _>) =
                plain.into_iter().partition(|(k, _)| looks_secret(k));
            if moved.is_empty() {
                continue;
            }
            n += moved.len();
            for (k, v) in moved {
                secret.insert(k, keys.seal(&v));
            }
            let json = |m: &BTreeMap<String, String>| {
                serde_json::to_string(m).map_err(|e| Error::Internal(e.to_string()))
            };
            store::escalation::set_headers(c, t, id, &json(&kept)?, &json(&secret)?)?;
        }
        Ok(n)
    })
    .await
}

/// Create or replace (by name) a target that transfers the whole ticket to a department's queue.
pub fn save_transfer_target(
    c: &mut Conn,
    t: TenantId,
    name: &str,
    queue_slug: &str,
) -> Result<i64> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 80 {
        return Err(InvalidValue::new("name", Reason::Length { min: 1, max: 80 }).into());
    }
    let q = store::queues::by_slug(c, t, queue_slug)?.ok_or(Error::NotFound("queue"))?;
    Ok(store::escalation::save_transfer_target(
        c,
        t,
        name,
        q.id,
        store::now(),
    )?)
}

/// A fresh idempotency key: 128 random bits, hex.
pub(crate) fn new_key() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// A ticket's escalations as the ticket page shows them.
#[derive(Debug, Clone, Serialize)]
pub struct EscalationView {
    pub target: String,
    /// `records`, `referral` or `transfer`.
    pub kind: String,
    pub due_at: Option<chrono::NaiveDateTime>,
    pub state: String,
    pub case_number: Option<String>,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub reason: String,
    pub created_at: chrono::NaiveDateTime,
}

/// A target an agent may choose: (id, name).
pub type Choice = (i64, String);

/// Escalations of a ticket, and the targets an agent may choose (inside the caller's read: the
/// ticket page reads everything in one).
pub(crate) fn for_ticket_in(
    c: &mut Conn,
    t: TenantId,
    ticket: TicketId,
) -> Result<(Vec<EscalationView>, Vec<Choice>)> {
    let all = store::escalation::targets(c, t)?;
    let list = store::escalation::of_ticket(c, t, ticket)?
        .into_iter()
        .map(|(e, target)| EscalationView {
            kind: all
                .iter()
                .find(|x| x.id == e.target_id)
                .map(|x| x.kind.clone())
                .unwrap_or_default(),
            due_at: e.due_at,
            target,
            state: e.state,
            case_number: e.case_number,
            attempts: e.attempts,
            last_error: e.last_error,
            reason: e.reason,
            created_at: e.created_at,
        })
        .collect();
    let targets = all.into_iter().map(|x| (x.id, x.name)).collect();
    Ok((list, targets))
}

/// Delivers [`OUTBOX_KIND`] items. A lane per records system (target): one that hangs holds up
/// only the escalations to it.
pub struct EscalationJob {
    pub db: Db,
    pub keys: Arc<Keys>,
    pub egress: Arc<Policy>,
    /// For links in what is sent.
    pub public_url: String,
}

impl crate::outbox::Job for EscalationJob {
    fn kind(&self) -> &'static str {
        OUTBOX_KIND
    }

    fn lane(&self, item: &store::outbox::Item) -> String {
        // (Items written before the payload named the target share one lane per tenant.)
        match serde_json::from_str::<serde_json::Value>(&item.payload)
            .ok()
            .and_then(|v| v.get("target").and_then(serde_json::Value::as_i64))
        {
            Some(target) => format!("target {target}"),
            None => format!("tenant {}", item.tenant_id),
        }
    }

    fn deliver<'a>(&'a self, item: &'a store::outbox::Item) -> crate::outbox::Delivery<'a> {
        Box::pin(deliver(
            &self.db,
            &self.keys,
            &self.egress,
            &self.public_url,
            TenantId::from_db(item.tenant_id),
            &item.payload,
        ))
    }

    fn on_dead(
        &self,
        c: &mut Conn,
        item: &store::outbox::Item,
        error: &str,
        now: chrono::NaiveDateTime,
    ) -> Result<(), store::StoreError> {
        on_dead(
            c,
            TenantId::from_db(item.tenant_id),
            &item.payload,
            error,
            now,
        )
    }

    fn on_revive(
        &self,
        c: &mut Conn,
        item: &store::outbox::Item,
        now: chrono::NaiveDateTime,
    ) -> Result<(), store::StoreError> {
        on_retry(c, TenantId::from_db(item.tenant_id), &item.payload, now)
    }
}

fn retry(e: impl std::fmt::Display) -> DeliveryError {
    DeliveryError::Retry(e.to_string())
}

/// Deliver one escalation (the outbox worker calls this for [`OUTBOX_KIND`] items).
pub async fn deliver(
    db: &Db,
    keys: &Keys,
    egress: &Arc<Policy>,
    public_url: &str,
    tenant: TenantId,
    payload: &str,
) -> Result<(), DeliveryError> {
    let id = serde_json::from_str::<serde_json::Value>(payload)
        .ok()
        .and_then(|v| v.get("escalation").and_then(|x| x.as_i64()))
        .ok_or_else(|| DeliveryError::Permanent(format!("bad payload {payload}")))?;
    let (e, target, input) = load(db, tenant, id, public_url).await?;
    if e.state == "answered" {
        return Ok(());
    }
    let request = render::request(&target, keys, &input).map_err(DeliveryError::Permanent)?;
    let sent = send(egress, &target, &request).await;
    let attempt = Attempt {
        id,
        ticket: TicketId::from_db(e.ticket_id),
        number: e.attempts + 1,
        target: target.name.clone(),
        came_to: match &sent {
            Err(Sent::Refused(r)) => CameTo::Refused(r.clone()),
            Ok(case) => CameTo::Answered(case.clone()),
            Err(Sent::Failed(DeliveryError::Retry(m))) => CameTo::Failed(m.clone(), "sending"),
            Err(Sent::Failed(DeliveryError::Permanent(m))) => CameTo::Failed(m.clone(), "failed"),
        },
    };
    db.write(move |c| attempt.record_in_tx(c, tenant, store::now()))
        .await
        .map_err(retry)?;
    sent.map(|_| ()).map_err(|e| match e {
        Sent::Failed(d) => d,
        // Nothing to retry: the address stays what it is until an administrator changes it.
        Sent::Refused(r) => DeliveryError::Permanent(r.to_string()),
    })
}

/// The escalation, its target and what its request is rendered from.
async fn load(
    db: &Db,
    tenant: TenantId,
    id: i64,
    public_url: &str,
) -> Result<
    (
        store::escalation::Escalation,
        store::escalation::Target,
        render::Input,
    ),
    DeliveryError,
> {
    let public_url = public_url.to_string();
    db.read(move |c| -> Result<_> {
        let e = store::escalation::get(c, tenant, id)?.ok_or(Error::NotFound("escalation"))?;
        let target = store::escalation::target(c, tenant, e.target_id)?
            .ok_or(Error::NotFound("escalation target"))?;
        let ticket = TicketId::from_db(e.ticket_id);
        let input = render::Input::load(c, tenant, ticket, &e, &public_url)?;
        Ok((e, target, input))
    })
    .await
    .map_err(retry)
}

/// One delivery attempt of an escalation, to be recorded with the ticket.
struct Attempt {
    id: i64,
    ticket: TicketId,
    /// 1 for the first attempt.
    number: i32,
    /// The target's name.
    target: String,
    came_to: CameTo,
}

/// What an attempt came to.
enum CameTo {
    /// The egress policy refused the address.
    Refused(crate::egress::Refused),
    /// The target's case number.
    Answered(String),
    /// The error and the escalation's state after it ("sending": retried, "failed": not).
    Failed(String, &'static str),
}

impl Attempt {
    /// Record the attempt on the escalation and in the ticket's history; an answer also tells the
    /// citizen.
    fn record_in_tx(
        &self,
        c: &mut Conn,
        tenant: TenantId,
        now: chrono::NaiveDateTime,
    ) -> Result<()> {
        let (id, ticket, target, attempt) = (self.id, self.ticket, &self.target, self.number);
        let (kind, details) = match &self.came_to {
            CameTo::Refused(r) => {
                let text = r.to_string();
                store::escalation::record_attempt(c, tenant, id, "failed", Some(&text), now)?;
                let details = json!({
                    "target": target, "attempt": attempt, "host": r.host,
                    "address": r.address.to_string(), "blocked": r.kind.key(),
                });
                ("escalation_refused", details)
            }
            CameTo::Answered(case) => {
                store::escalation::record_attempt(c, tenant, id, "answered", None, now)?;
                store::escalation::answered(c, tenant, id, ticket, case, now)?;
                let tk = store::tickets::get(c, tenant, ticket)?;
                crate::notify::citizen::enqueue(
                    c,
                    tenant,
                    &tk,
                    crate::notify::citizen::Event::Escalated,
                    now,
                )?;
                let details = json!({ "target": target, "case_number": case, "attempt": attempt });
                ("escalation_answered", details)
            }
            CameTo::Failed(text, state) => {
                let text = text.as_str();
                store::escalation::record_attempt(c, tenant, id, state, Some(text), now)?;
                let details = json!({ "target": target, "error": text, "attempt": attempt });
                ("escalation_attempt_failed", details)
            }
        };
        store::tickets::insert_event(c, tenant, ticket, None, kind, &details, now)?;
        Ok(())
    }
}

/// Why a request did not give a case number.
enum Sent {
    Failed(DeliveryError),
    /// The egress policy refused the address (before anything was sent).
    Refused(crate::egress::Refused),
}

/// Send the request through the egress policy; the case number on success. Timeouts,
/// connection failures, 408, 429 and 5xx are worth retrying; other answers are not. What the
/// target answered is kept to [`crate::egress::MAX_ERROR_BODY`] bytes.
async fn send(
    egress: &Arc<Policy>,
    target: &store::escalation::Target,
    r: &render::Request,
) -> Result<String, Sent> {
    let failed = |e: DeliveryError| Sent::Failed(e);
    let client = egress
        .http_client(Duration::from_secs(target.timeout_seconds.max(1) as u64))
        .map_err(|e| failed(retry(e)))?;
    let method = reqwest::Method::from_bytes(target.method.as_bytes())
        .map_err(|e| failed(DeliveryError::Permanent(e.to_string())))?;
    let mut req = client
        .request(method, &r.url)
        .map_err(|e| match e {
            EgressError::Refused(x) => Sent::Refused(x),
            other => failed(DeliveryError::Permanent(other.to_string())),
        })?
        .header(reqwest::header::CONTENT_TYPE, &r.content_type)
        .body(r.body.clone());
    for (k, v) in &r.headers {
        req = req.header(k, v);
    }
    let resp = req.send().await.map_err(|e| {
        if let Some(x) = crate::egress::refusal_in(&e) {
            Sent::Refused(x)
        } else if e.is_timeout() {
            failed(DeliveryError::Retry(format!(
                "no answer within {} s",
                target.timeout_seconds
            )))
        } else {
            failed(DeliveryError::Retry(format!("cannot reach {}: {e}", r.url)))
        }
    })?;
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    let short = crate::egress::truncate(&text, crate::egress::MAX_ERROR_BODY);
    if status.is_server_error()
        || status == reqwest::StatusCode::REQUEST_TIMEOUT
        || status == reqwest::StatusCode::TOO_MANY_REQUESTS
    {
        return Err(failed(DeliveryError::Retry(format!(
            "HTTP {status}: {short}"
        ))));
    }
    if !status.is_success() {
        return Err(failed(DeliveryError::Permanent(format!(
            "HTTP {status}: {short}"
        ))));
    }
    render::case_number(&text, &target.case_pointer)
        .map_err(|e| failed(DeliveryError::Permanent(e)))
}

/// An escalation whose delivery was given up: its state says so, and the ticket's history.
pub(crate) fn on_dead(
    c: &mut Conn,
    tenant: TenantId,
    payload: &str,
    error: &str,
    now: chrono::NaiveDateTime,
) -> Result<(), store::StoreError> {
    let Some(id) = serde_json::from_str::<serde_json::Value>(payload)
        .ok()
        .and_then(|v| v.get("escalation").and_then(|x| x.as_i64()))
    else {
        return Ok(());
    };
    if let Some(e) = store::escalation::get(c, tenant, id)?
        && e.state != "answered"
    {
        store::escalation::set_state(c, tenant, id, "failed", Some(error), now)?;
        // A refused address: the history already says why, in the reader's language.
        let refused = error.starts_with(crate::egress::REFUSED_PREFIX);
        store::tickets::insert_event(
            c,
            tenant,
            TicketId::from_db(e.ticket_id),
            None,
            if refused {
                "escalation_failed_refused"
            } else {
                "escalation_failed"
            },
            &json!({ "error": error }),
            now,
        )?;
    }
    Ok(())
}

/// An escalation whose delivery an admin asked to try again.
pub(crate) fn on_retry(
    c: &mut Conn,
    tenant: TenantId,
    payload: &str,
    now: chrono::NaiveDateTime,
) -> Result<(), store::StoreError> {
    if let Some(id) = serde_json::from_str::<serde_json::Value>(payload)
        .ok()
        .and_then(|v| v.get("escalation").and_then(|x| x.as_i64()))
    {
        store::escalation::set_state(c, tenant, id, "sending", None, now)?;
    }
    Ok(())
}
