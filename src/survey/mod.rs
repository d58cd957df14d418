//! Servicemätning (D65): the built-in citizen survey after a resolved ticket.
//!
//! Per queue, opt-in (`configure`). When a ticket of such a queue is resolved, the resolution's
//! transaction calls [`on_resolved_in_tx`]: unless the ticket is automatic, merged away, has no
//! contact, or its contact was offered a survey within the queue's period, a survey row and a
//! delayed outbox item `survey` are written. The worker ([`SurveyJob`]) sends it by mail or SMS
//! as the contact is reached (the notification's channel choice), unless the ticket was reopened
//! in between or its queue's information class forbids content by mail; a once-keyed
//! `survey_sent` history event records it. The link (`/survey/<token>`) is signed per survey;
//! the answer is stored once (`answer`). `results` turns the answers into the SKR index.

mod answer;
mod deliver;
pub mod results;

pub use answer::{AnswerInput, Answered, SurveyPage, answer, open};
pub use deliver::{Config, OUTBOX_KIND, SurveyJob};
pub use results::{Comment, IndexFigure, ReportRow, SurveyReport, results};

use chrono::{Duration, NaiveDateTime};
use serde_json::json;

use crate::accounts::Actor;
use crate::accounts::permissions::leads;
use crate::domain::{InvalidValue, QueueId, Reason, TenantId};
use crate::error::{Error, Result};
use crate::store::{self, Conn, Db};

/// Default: at most one survey per contact in 90 days.
pub const DEFAULT_PERIOD_DAYS: i32 = 90;
/// Default: the survey goes out an hour after the resolution.
pub const DEFAULT_DELAY_MINUTES: i32 = 60;
/// Longest kind of matter.
pub const MAX_MATTER_CHARS: usize = 80;

/// A queue's survey setting as the admin page shows it (a queue never saved gets the defaults,
/// with the kind of matter preset from the queue's name).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct QueueSurvey {
    pub enabled: bool,
    pub matter: String,
    pub period_days: i32,
    pub delay_minutes: i32,
}

fn with_defaults(saved: Option<store::survey::Settings>, queue_name: &str) -> QueueSurvey {
    match saved {
        Some(s) => QueueSurvey {
            enabled: s.enabled,
            matter: s.matter,
            period_days: s.period_days,
            delay_minutes: s.delay_minutes,
        },
        None => QueueSurvey {
            enabled: false,
            matter: queue_name.to_string(),
            period_days: DEFAULT_PERIOD_DAYS,
            delay_minutes: DEFAULT_DELAY_MINUTES,
        },
    }
}

/// Admins set every queue's survey; a lead their own queues'.
fn may_configure(actor: &Actor, q: QueueId) -> Result<()> {
    if actor.is_admin() || leads(actor, q) {
        Ok(())
    } else {
        Err(Error::Forbidden(
            "administrators and the queue's leads only",
        ))
    }
}

/// The queue's survey setting (for its admin page).
pub async fn settings(db: &Db, actor: &Actor, queue: i64) -> Result<QueueSurvey> {
    crate::accounts::permissions::require_admin_or_lead(actor)?;
    let t = actor.tenant;
    db.read(move |c| -> Result<QueueSurvey> {
        let q = store::queues::lookup(c, t, queue)?.ok_or(Error::NotFound("queue"))?;
        Ok(with_defaults(store::survey::settings(c, t, q.id)?, &q.name))
    })
    .await
}

/// What an admin or lead saves for a queue's survey.
#[derive(Debug, Clone)]
pub struct SettingsInput {
    pub enabled: bool,
    pub matter: String,
    pub period_days: String,
    pub delay_minutes: String,
}

fn number_in(field: &'static str, raw: &str, min: i32, max: i32) -> Result<i32> {
    let n: i32 = raw
        .trim()
        .parse()
        .map_err(|_| InvalidValue::new(field, Reason::NotANumber))?;
    if !(min..=max).contains(&n) {
        return Err(InvalidValue::new(
            field,
            Reason::Range {
                min: min as usize,
                max: max as usize,
            },
        )
        .into());
    }
    Ok(n)
}

fn parse_settings(i: &SettingsInput) -> Result<store::survey::Settings> {
    let matter = i.matter.trim().to_string();
    if matter.is_empty() {
        return Err(InvalidValue::new("matter", Reason::Empty).into());
    }
    if matter.chars().count() > MAX_MATTER_CHARS {
        return Err(InvalidValue::new(
            "matter",
            Reason::TooLong {
                max: MAX_MATTER_CHARS,
            },
        )
        .into());
    }
    Ok(store::survey::Settings {
        enabled: i.enabled,
        matter,
        period_days: number_in("period_days", &i.period_days, 1, 730)?,
        delay_minutes: number_in("delay_minutes", &i.delay_minutes, 0, 10_080)?,
    })
}

/// Save the queue's survey setting (admins: any queue; leads: their own). Who changed it is
/// logged, as for the queue's other settings.
pub async fn configure(db: &Db, actor: &Actor, queue: i64, input: SettingsInput) -> Result<()> {
    let s = parse_settings(&input)?;
    let a = actor.clone();
    db.write(move |c| -> Result<()> {
        let q = store::queues::lookup(c, a.tenant, queue)?.ok_or(Error::NotFound("queue"))?;
        may_configure(&a, q.id)?;
        store::survey::save_settings(c, a.tenant, q.id, &s)?;
        tracing::info!(
            queue = q.id.get(),
            by = %a.credential_id,
            enabled = s.enabled,
            "survey setting saved"
        );
        Ok(())
    })
    .await
}

/// A ticket was just resolved (inside the resolution's transaction): queue its survey when the
/// queue asks for one and nothing rules it out. Never for automatic or merged-away tickets, a
/// ticket without a contact, or a contact offered a survey within the queue's period.
pub(crate) fn on_resolved_in_tx(
    c: &mut Conn,
    t: TenantId,
    ticket: &store::tickets::Ticket,
    now: NaiveDateTime,
) -> Result<(), store::StoreError> {
    let Some(s) = store::survey::settings(c, t, ticket.queue_id)?.filter(|s| s.enabled) else {
        return Ok(());
    };
    if ticket.automatic.is_some() || ticket.merged_into_id.is_some() {
        return Ok(());
    }
    let Some(contact) = ticket
        .contact_id
        .map(|id| store::contacts::get(c, t, id))
        .transpose()?
        .flatten()
    else {
        return Ok(());
    };
    if contact.email.is_none() && contact.phone.is_none() {
        return Ok(());
    }
    let since = now - Duration::days(i64::from(s.period_days));
    if store::survey::offered_since(c, t, contact.id, since)? {
        return Ok(());
    }
    let id = store::survey::insert(
        c,
        t,
        &store::survey::NewSurvey {
            ticket: ticket.id,
            queue: ticket.queue_id,
            contact: contact.id,
            matter: &s.matter,
        },
        now,
    )?;
    let at = now + Duration::minutes(i64::from(s.delay_minutes));
    store::outbox::enqueue_at(
        c,
        t,
        OUTBOX_KIND,
        &json!({ "survey": id }),
        Some(ticket.id),
        now,
        at,
    )?;
    Ok(())
}
