//! Sending a queued survey (the outbox worker): by mail or SMS as the contact is reached, once,
//! with a `survey_sent` history event — or not at all, with the reason kept on the survey row.

use serde_json::json;

use crate::domain::{Status, TenantId, TicketId};
use crate::error::{Error, Result};
use crate::notify::citizen::{Outgoing, Reach};
use crate::outbox::DeliveryError;
use crate::store::{self, Conn, Db};
use crate::text::Templates;

/// The outbox kind; the payload is `{"survey": id}`.
pub const OUTBOX_KIND: &str = "survey";

/// What the worker needs (from the configuration).
#[derive(Debug, Clone)]
pub struct Config {
    /// Sender, public address, signer and the information-class limit, as for notifications.
    pub notify: crate::notify::citizen::Config,
    /// How long a survey link works.
    pub link_days: i64,
}

/// Delivers [`OUTBOX_KIND`] items: it only writes (the mail or SMS goes through the outbox
/// again), in the ticket's lane.
pub struct SurveyJob {
    pub db: Db,
    pub cfg: Config,
}

impl crate::outbox::Job for SurveyJob {
    fn kind(&self) -> &'static str {
        OUTBOX_KIND
    }

    fn lane(&self, item: &store::outbox::Item) -> String {
        format!("ticket {}", item.ticket_id.unwrap_or_default())
    }

    fn deliver<'a>(&'a self, item: &'a store::outbox::Item) -> crate::outbox::Delivery<'a> {
        Box::pin(deliver(
            &self.db,
            &self.cfg,
            TenantId::from_db(item.tenant_id),
            &item.payload,
        ))
    }
}

async fn deliver(
    db: &Db,
    cfg: &Config,
    tenant: TenantId,
    payload: &str,
) -> Result<(), DeliveryError> {
    let id = serde_json::from_str::<serde_json::Value>(payload)
        .ok()
        .and_then(|v| v.get("survey").and_then(|x| x.as_i64()))
        .ok_or_else(|| DeliveryError::Permanent(format!("bad payload {payload}")))?;
    let cfg = cfg.clone();
    db.write(move |c| write(c, &cfg, tenant, id))
        .await
        .map_err(|e| match e {
            Error::Internal(m) => DeliveryError::Retry(m),
            other => DeliveryError::Permanent(other.to_string()),
        })
}

/// Why a queued survey is not sent after all (None: send it).
fn skip_reason(
    tk: &store::tickets::Ticket,
    s: &store::survey::Survey,
    info_class: i32,
    cfg: &Config,
) -> Option<&'static str> {
    if tk.merged_into_id.is_some() {
        return Some("merged");
    }
    // Reopened since (and perhaps resolved again later): the survey would ask about an answer
    // that did not settle the matter.
    let resolved = matches!(tk.status, Status::Resolved | Status::Closed)
        && tk.resolved_at.is_some_and(|r| r <= s.created_at);
    if !resolved {
        return Some("reopened");
    }
    if info_class >= cfg.notify.content_free_from_class {
        return Some("info_class");
    }
    None
}

fn write(c: &mut Conn, cfg: &Config, t: TenantId, id: i64) -> Result<()> {
    let now = store::now();
    let Some(s) = store::survey::get(c, t, id)? else {
        return Ok(());
    };
    if s.sent_at.is_some() || s.skipped.is_some() {
        return Ok(());
    }
    let tk = store::tickets::get(c, t, TicketId::from_db(s.ticket_id))?;
    let (_, info_class) = store::queues::notify_settings(c, t, tk.queue_id)?;
    if let Some(why) = skip_reason(&tk, &s, info_class, cfg) {
        store::survey::mark_skipped(c, t, id, why)?;
        return Ok(());
    }
    let contact = store::contacts::get(c, t, s.contact_id)?;
    let reach = match &contact {
        Some(contact) => Reach::of(c, t, contact)?,
        None => None,
    };
    let (Some(contact), Some(reach)) = (contact, reach) else {
        store::survey::mark_skipped(c, t, id, "unreachable")?;
        return Ok(());
    };
    if !store::survey::mark_sent(c, t, id, reach.channel(), now)? {
        return Ok(());
    }
    store::tickets::insert_events_once(
        c,
        &[store::tickets::OnceEvent {
            tenant: t,
            ticket: tk.id,
            kind: "survey_sent",
            details: json!({ "survey": id, "channel": reach.channel() }).to_string(),
            once_key: format!("survey:{id}"),
        }],
        now,
    )?;
    let lang = crate::domain::Language::parse(&contact.language)
        .unwrap_or(crate::domain::Language::Sv)
        .as_str();
    let templates = Templates::get();
    let name = format!("survey/invite.{}.{lang}", reach.channel());
    let data = json!({
        "name": contact.name,
        "tenant": store::tenants::get(c, t)?.name,
        "matter": s.matter,
        "number": tk.number,
        "link": super::answer::link(&cfg.notify.signer, &cfg.notify.public_url, t, id, cfg.link_days),
    });
    let text = templates
        .render_text(&name, &data)
        .map(|s| s.trim().to_string())
        .map_err(|e| Error::Internal(format!("{name}: {e}")))?;
    let out = Outgoing {
        cfg: &cfg.notify,
        t,
        tk: &tk,
        now,
        kind: "survey",
    };
    match reach {
        Reach::Sms { phone, gateway } => out.sms(c, &phone, &gateway, &text),
        Reach::Mail { to } => {
            let subject = templates
                .text(lang, "survey.mail.subject")
                .replace("{tenant}", data["tenant"].as_str().unwrap_or_default());
            out.mail(c, to, subject, text)
        }
    }
}
