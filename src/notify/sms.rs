//! SMS to citizens: each municipality's gateway, sending through the outbox, delivery reports,
//! and the internal bill per department and month.
//!
//! Providers: `outbox` writes each message as a JSON file to `<data_dir>/sms-outbox` (the demo;
//! nothing leaves the machine); `rest` is the common shape of Swedish SMS REST APIs: an HTTPS
//! POST of form fields `from`, `to`, `message` and `whendelivered` (our delivery-report address)
//! with basic auth, answered with JSON carrying the message's `id`. The gateway later POSTs
//! `id` and `status` (`delivered` or `failed`) to the report address.

use std::time::Duration;

use serde::Serialize;
use serde_json::json;

use super::sms_text::{self, Shape};
use crate::accounts::{Actor, Scope};
use crate::domain::FormatKind;
use crate::domain::Reason;
use crate::domain::{InvalidValue, PhoneNumber, TenantId, TicketId, TicketNumber};
use crate::error::{Error, Result};
use crate::outbox::DeliveryError;
use crate::secrets::Keys;
use crate::store::{self, Conn, Db};

/// The outbox kind of an SMS to send; the payload is `{"sms": id}`.
pub const OUTBOX_KIND: &str = "sms";

/// Longest text an agent may send (seven or more parts is a letter, not a text message).
pub const MAX_CHARS: usize = 800;

/// A tenant's gateway as an operator describes it.
#[derive(Debug, Clone)]
pub struct GatewayInput {
    pub provider: String,
    pub url: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub sender: String,
    pub nordic_gsm7: bool,
    pub price_ore: i32,
    /// The `http` provider: a handlebars body with `{{from}}`, `{{to}}`, `{{message}}` and
    /// `{{report_url}}`, its content type, and the JSON pointer to the message id in the answer.
    pub body_template: String,
    pub content_type: String,
    pub id_pointer: String,
}

fn validate(g: &GatewayInput) -> Result<(), InvalidValue> {
    match g.provider.as_str() {
        "outbox" => {}
        "rest" | "http" => {
            let url = g
                .url
                .as_deref()
                .ok_or_else(|| InvalidValue::new("url", Reason::RestNeedsUrl))?;
            let u = url::Url::parse(url)
                .map_err(|_| InvalidValue::new("url", Reason::format(url, FormatKind::Url)))?;
            if !matches!(u.scheme(), "http" | "https") {
                return Err(InvalidValue::new(
                    "url",
                    Reason::format(url, FormatKind::UrlHttp),
                ));
            }
        }
        other => {
            return Err(InvalidValue::new(
                "provider",
                Reason::not_one_of(other, &["outbox", "rest", "http"]),
            ));
        }
    }
    if g.provider == "http" {
        if g.body_template.trim().is_empty() {
            return Err(InvalidValue::new("body_template", Reason::HttpNeedsBody));
        }
        crate::escalation::render::check_template(&g.body_template)?;
        if !g.id_pointer.starts_with('/') {
            return Err(InvalidValue::new(
                "id_pointer",
                Reason::format(g.id_pointer.as_str(), FormatKind::JsonPointer),
            ));
        }
    }
    let s = g.sender.trim();
    let alnum = !s.is_empty() && s.len() <= 11 && s.chars().all(|c| c.is_ascii_alphanumeric());
    if !alnum && PhoneNumber::parse(s).is_err() {
        return Err(InvalidValue::new(
            "sender",
            Reason::format(s, FormatKind::SmsSender),
        ));
    }
    if !(0..=100_000).contains(&g.price_ore) {
        return Err(InvalidValue::new(
            "price_ore",
            Reason::Range {
                min: 0,
                max: 100_000,
            },
        ));
    }
    Ok(())
}

/// Set the tenant's SMS gateway (the password is sealed).
pub fn save_gateway(c: &mut Conn, keys: &Keys, t: TenantId, g: &GatewayInput) -> Result<()> {
    validate(g)?;
    let sealed = g.password.as_deref().map(|p| keys.seal(p));
    let token = hex::encode(rand::random::<[u8; 16]>());
    store::sms::save_gateway(
        c,
        t,
        &store::sms::GatewayRow {
            provider: &g.provider,
            url: g.url.as_deref(),
            username: g.username.as_deref(),
            password: sealed.as_deref(),
            sender: g.sender.trim(),
            nordic_gsm7: g.nordic_gsm7,
            price_ore: g.price_ore,
            body_template: &g.body_template,
            content_type: &g.content_type,
            id_pointer: &g.id_pointer,
        },
        &token,
        store::now(),
    )?;
    Ok(())
}

/// What a text would take on the actor's gateway (shown before sending).
pub async fn preview(db: &Db, actor: &Actor, text: &str) -> Result<Shape> {
    actor.require(Scope::TicketsRead)?;
    let t = actor.tenant;
    let nordic = db
        .read(move |c| store::sms::gateway(c, t))
        .await?
        .is_some_and(|g| g.nordic_gsm7);
    Ok(sms_text::shape(text, nordic))
}

/// Send a text message to a ticket's contact (their phone number), through the outbox; the
/// ticket's history records it with its parts.
pub async fn send_to_contact(
    db: &Db,
    actor: &Actor,
    number: TicketNumber,
    text: &str,
) -> Result<i64> {
    actor.require(Scope::TicketsWrite)?;
    let text = text.trim().replace("\r\n", "\n");
    if text.is_empty() {
        return Err(InvalidValue::new("text", Reason::Empty).into());
    }
    if text.chars().count() > MAX_CHARS {
        return Err(InvalidValue::new("text", Reason::TooLong { max: MAX_CHARS }).into());
    }
    let (t, access, uid) = (actor.tenant, actor.queue_access(), actor.user()?);
    db.write(move |c| -> Result<i64> {
        let ticket = crate::tickets::find(c, t, &access, &number)?;
        let phone = match ticket.contact_id {
            Some(id) => store::contacts::get(c, t, id)?.and_then(|x| x.phone),
            None => None,
        }
        .ok_or_else(|| InvalidValue::new("phone", Reason::NoContactPhone))?;
        let phone = PhoneNumber::parse(&phone)?;
        let gateway = store::sms::gateway(c, t)?
            .ok_or_else(|| InvalidValue::new("sms", Reason::NoSmsGateway))?;
        let shape = sms_text::shape(&text, gateway.nordic_gsm7);
        let now = store::now();
        let id = store::sms::insert(
            c,
            t,
            &store::sms::NewSms {
                ticket: Some(ticket.id),
                queue: Some(ticket.queue_id),
                to: phone.as_str(),
                body: &text,
                encoding: shape.encoding.as_str(),
                segments: shape.segments as i32,
                cost_ore: shape.segments as i64 * i64::from(gateway.price_ore),
                provider: &gateway.provider,
                sent_by: Some(uid),
            },
            now,
        )?;
        store::outbox::enqueue(c, t, OUTBOX_KIND, &json!({ "sms": id }), Some(ticket.id), now)?;
        store::tickets::insert_event(
            c,
            t,
            ticket.id,
            Some(uid),
            "sms_queued",
            &json!({ "to": phone.as_str(), "segments": shape.segments, "encoding": shape.encoding }),
            now,
        )?;
        Ok(id)
    })
    .await
}

fn payload_id(payload: &str) -> Option<i64> {
    serde_json::from_str::<serde_json::Value>(payload)
        .ok()?
        .get("sms")?
        .as_i64()
}

/// Where the gateway reports deliveries for `token`.
pub fn report_url(public_url: &str, token: &str) -> String {
    format!("{}/sms/reports/{token}", public_url.trim_end_matches('/'))
}

/// Delivers [`OUTBOX_KIND`] items, in a lane per tenant (its one gateway).
pub struct SmsJob {
    pub db: Db,
    pub keys: std::sync::Arc<Keys>,
    pub egress: std::sync::Arc<crate::egress::Policy>,
    /// Where the local provider writes its files.
    pub data_dir: std::path::PathBuf,
    /// For the delivery-report address.
    pub public_url: String,
}

impl crate::outbox::Job for SmsJob {
    fn kind(&self) -> &'static str {
        OUTBOX_KIND
    }

    fn lane(&self, item: &store::outbox::Item) -> String {
        format!("tenant {}", item.tenant_id)
    }

    fn deliver<'a>(&'a self, item: &'a store::outbox::Item) -> crate::outbox::Delivery<'a> {
        Box::pin(deliver(
            &self.db,
            &self.keys,
            &self.egress,
            &self.data_dir,
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
        on_dead(c, TenantId::from_db(item.tenant_id), &item.payload, error)?;
        crate::outbox::dead_letter_event(c, item, error, now)
    }
}

/// Deliver one queued SMS (the outbox worker calls this for [`OUTBOX_KIND`] items).
pub async fn deliver(
    db: &Db,
    keys: &Keys,
    egress: &std::sync::Arc<crate::egress::Policy>,
    data_dir: &std::path::Path,
    public_url: &str,
    tenant: TenantId,
    payload: &str,
) -> Result<(), DeliveryError> {
    let id = payload_id(payload)
        .ok_or_else(|| DeliveryError::Permanent(format!("bad payload {payload}")))?;
    let (sms, gateway) = db
        .read(move |c| -> Result<_> {
            let sms = store::sms::get(c, tenant, id)?.ok_or(Error::NotFound("sms"))?;
            let gateway = store::sms::gateway(c, tenant)?.ok_or(Error::NotFound("sms gateway"))?;
            Ok((sms, gateway))
        })
        .await
        .map_err(|e| DeliveryError::Retry(e.to_string()))?;
    if sms.status != "queued" {
        return Ok(());
    }
    let provider_ref = match gateway.provider.as_str() {
        "outbox" => write_local(data_dir, tenant, &sms, &gateway.sender)?,
        "rest" | "http" => match send_rest(keys, egress, &gateway, &sms, public_url).await {
            Err(Sent::Refused(r)) => return refused(db, tenant, &sms, r).await,
            Err(Sent::Failed(e)) => return Err(e),
            Ok(x) => x,
        },
        other => {
            return Err(DeliveryError::Permanent(format!(
                "unknown SMS provider {other}"
            )));
        }
    };
    let ticket = sms.ticket_id.map(TicketId::from_db);
    db.write(move |c| -> Result<()> {
        let now = store::now();
        store::sms::sent(c, tenant, id, Some(&provider_ref), now)?;
        if let Some(tk) = ticket {
            store::tickets::insert_event(
                c,
                tenant,
                tk,
                None,
                "sms_sent",
                &json!({ "to": sms.to_number, "segments": sms.segments }),
                now,
            )?;
        }
        Ok(())
    })
    .await
    .map_err(|e| DeliveryError::Retry(e.to_string()))
}

/// The demo provider: one JSON file per message in `<data_dir>/sms-outbox`.
fn write_local(
    data_dir: &std::path::Path,
    tenant: TenantId,
    sms: &store::sms::Sms,
    sender: &str,
) -> Result<String, DeliveryError> {
    let dir = data_dir.join("sms-outbox");
    store::private::create_dir(&dir).map_err(|e| DeliveryError::Retry(e.to_string()))?;
    let name = format!("{}-{}.json", tenant.get(), sms.id);
    let doc = json!({
        "from": sender, "to": sms.to_number, "message": sms.body,
        "encoding": sms.encoding, "segments": sms.segments,
    });
    store::private::write(&dir.join(&name), doc.to_string().as_bytes())
        .map_err(|e| DeliveryError::Retry(e.to_string()))?;
    Ok(format!("local-{}", sms.id))
}

/// The gateway's address was refused by the egress policy: the ticket's history says so (the
/// message is then given up as failed, through the outbox).
async fn refused(
    db: &Db,
    tenant: TenantId,
    sms: &store::sms::Sms,
    r: crate::egress::Refused,
) -> Result<(), DeliveryError> {
    let text = r.to_string();
    if let Some(tk) = sms.ticket_id.map(TicketId::from_db) {
        let to = sms.to_number.clone();
        db.write(move |c| -> Result<()> {
            store::tickets::insert_event(
                c,
                tenant,
                tk,
                None,
                "sms_refused",
                &json!({
                    "to": to, "host": r.host, "address": r.address.to_string(),
                    "blocked": r.kind.key(),
                }),
                store::now(),
            )?;
            Ok(())
        })
        .await
        .map_err(|e| DeliveryError::Retry(e.to_string()))?;
    }
    Err(DeliveryError::Permanent(text))
}

/// Why a gateway did not take a message.
enum Sent {
    Failed(DeliveryError),
    Refused(crate::egress::Refused),
}

impl From<DeliveryError> for Sent {
    fn from(e: DeliveryError) -> Self {
        Sent::Failed(e)
    }
}

async fn send_rest(
    keys: &Keys,
    egress: &std::sync::Arc<crate::egress::Policy>,
    g: &store::sms::Gateway,
    sms: &store::sms::Sms,
    public_url: &str,
) -> Result<String, Sent> {
    use secrecy::ExposeSecret;
    let url = g
        .url
        .as_deref()
        .ok_or_else(|| DeliveryError::Permanent("the gateway has no address".into()))?;
    let password = match &g.password {
        Some(sealed) => Some(
            keys.open(sealed)
                .map_err(|e| DeliveryError::Permanent(format!("stored password unreadable: {e}")))?
                .expose_secret()
                .to_string(),
        ),
        None => None,
    };
    let client = egress
        .http_client(Duration::from_secs(15))
        .map_err(|e| DeliveryError::Retry(e.to_string()))?;
    let post = |url: &str| {
        client.post(url).map_err(|e| match e {
            crate::egress::EgressError::Refused(r) => Sent::Refused(r),
            other => Sent::Failed(DeliveryError::Permanent(other.to_string())),
        })
    };
    let report = report_url(public_url, &g.report_token);
    let mut req = if g.provider == "http" {
        let data = json!({
            "from": g.sender, "to": sms.to_number, "message": sms.body, "report_url": report,
        });
        let body = crate::escalation::render::body_of(&g.body_template, &g.content_type, &data)
            .map_err(DeliveryError::Permanent)?;
        post(url)?
            .header(reqwest::header::CONTENT_TYPE, &g.content_type)
            .body(body)
    } else {
        post(url)?.form(&[
            ("from", g.sender.as_str()),
            ("to", sms.to_number.as_str()),
            ("message", sms.body.as_str()),
            ("whendelivered", report.as_str()),
        ])
    };
    if let Some(user) = &g.username {
        req = req.basic_auth(user, password);
    }
    let resp = req
        .send()
        .await
        .map_err(|e| match crate::egress::refusal_in(&e) {
            Some(r) => Sent::Refused(r),
            None => Sent::Failed(DeliveryError::Retry(format!(
                "cannot reach the SMS gateway: {e}"
            ))),
        })?;
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    let short = crate::egress::truncate(&text, crate::egress::MAX_ERROR_BODY);
    if status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 408 {
        return Err(DeliveryError::Retry(format!("HTTP {status}: {short}")).into());
    }
    if !status.is_success() {
        return Err(DeliveryError::Permanent(format!("HTTP {status}: {short}")).into());
    }
    let pointer = if g.provider == "http" {
        g.id_pointer.as_str()
    } else {
        "/id"
    };
    crate::escalation::render::case_number(&text, pointer).map_err(|e| {
        DeliveryError::Permanent(format!("the gateway answered without an id ({e}): {short}"))
            .into()
    })
}

/// An SMS that was given up: marked failed (its ticket's history says so through the outbox).
pub(crate) fn on_dead(
    c: &mut Conn,
    tenant: TenantId,
    payload: &str,
    error: &str,
) -> Result<(), store::StoreError> {
    if let Some(id) = payload_id(payload) {
        store::sms::failed(c, tenant, id, error)?;
    }
    Ok(())
}

/// A delivery report from the gateway: `token` names the tenant, `id` the message.
pub async fn report(db: &Db, token: &str, id: &str, status: &str) -> Result<()> {
    let delivered = match status.trim() {
        "delivered" => true,
        "failed" | "undelivered" | "expired" | "rejected" => false,
        other => {
            return Err(InvalidValue::new("status", Reason::unknown(other)).into());
        }
    };
    let (token, id, status) = (token.to_string(), id.trim().to_string(), status.to_string());
    db.write(move |c| -> Result<()> {
        let t = store::sms::tenant_of_report_token(c, &token)?
            .ok_or(Error::NotFound("report address"))?;
        let now = store::now();
        let (sms, applied) = store::sms::report(
            c,
            t,
            &id,
            delivered,
            (!delivered).then_some(status.as_str()),
            now,
        )?
        .ok_or(Error::NotFound("sms"))?;
        // A final state stays final: a later report is only recorded in the history.
        let kind = match (applied, delivered) {
            (false, _) => "sms_report_not_applied",
            (true, true) => "sms_delivered",
            (true, false) => "sms_failed",
        };
        if let Some(tk) = sms.ticket_id {
            store::tickets::insert_event(
                c,
                t,
                TicketId::from_db(tk),
                None,
                kind,
                &json!({
                    "to": sms.to_number, "status": status, "kept": sms.status,
                    "reported": if delivered { "delivered" } else { "failed" },
                }),
                now,
            )?;
        } else if !applied {
            tracing::info!(sms = sms.id, report = %status, kept = %sms.status, "late SMS delivery report recorded, not applied");
        }
        Ok(())
    })
    .await
}

/// One department's text messages in a month.
#[derive(Debug, Clone, Serialize)]
pub struct Usage {
    pub department: String,
    pub messages: i64,
    pub segments: i64,
    pub cost_ore: i64,
}

/// Messages, parts and cost per department in a calendar month (admins and queue leads).
pub async fn usage(db: &Db, actor: &Actor, first_day: chrono::NaiveDate) -> Result<Vec<Usage>> {
    if !crate::accounts::permissions::may_administer(actor) {
        return Err(Error::Forbidden(
            "only admins and queue leads see SMS costs",
        ));
    }
    let (from, to) = crate::sla::report::month_bounds(first_day)?;
    let t = actor.tenant;
    Ok(db
        .read(move |c| store::sms::usage(c, t, from, to))
        .await?
        .into_iter()
        .map(|r| Usage {
            department: r.queue.unwrap_or_default(),
            messages: r.messages,
            segments: r.segments,
            cost_ore: r.cost_ore,
        })
        .collect())
}

/// The tenant's gateway as the admin page shows it (the password only as "set or not").
#[derive(Debug, Clone, Serialize)]
pub struct GatewayView {
    pub provider: String,
    pub url: Option<String>,
    pub username: Option<String>,
    pub has_password: bool,
    pub sender: String,
    pub nordic_gsm7: bool,
    pub price_ore: i32,
    pub body_template: String,
    pub content_type: String,
    pub id_pointer: String,
    /// The token of the delivery-report address (`report_url`).
    pub report_token: String,
}

/// The tenant's gateway, if it has one (administrators).
pub async fn gateway_settings(db: &Db, actor: &Actor) -> Result<Option<GatewayView>> {
    crate::accounts::permissions::require_admin(actor)?;
    let t = actor.tenant;
    Ok(db
        .read(move |c| store::sms::gateway(c, t))
        .await?
        .map(|g| GatewayView {
            provider: g.provider,
            url: g.url,
            username: g.username,
            has_password: g.password.is_some(),
            sender: g.sender,
            nordic_gsm7: g.nordic_gsm7,
            price_ore: g.price_ore,
            body_template: g.body_template,
            content_type: g.content_type,
            id_pointer: g.id_pointer,
            report_token: g.report_token,
        }))
}

/// Set the tenant's gateway from the admin page. `g.password` None keeps the stored password.
pub async fn save_gateway_settings(
    db: &Db,
    actor: &Actor,
    keys: std::sync::Arc<Keys>,
    egress: &crate::egress::Policy,
    mut g: GatewayInput,
) -> Result<()> {
    crate::accounts::permissions::require_admin(actor)?;
    if g.provider != "outbox"
        && let Some(url) = &g.url
    {
        crate::escalation::admin::refuse_literal(egress, url.trim())?;
    }
    let t = actor.tenant;
    db.write(move |c| -> Result<()> {
        if g.password.is_none()
            && let Some(old) = store::sms::gateway(c, t)?.and_then(|x| x.password)
        {
            let p = keys
                .open(&old)
                .map_err(|e| Error::Internal(format!("stored password: {e}")))?;
            g.password = Some(secrecy::ExposeSecret::expose_secret(&p).to_string());
        }
        save_gateway(c, &keys, t, &g)
    })
    .await
}
