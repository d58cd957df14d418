//! Servicemätning (D65): each queue's survey setting and the surveys offered, sent and answered.

use chrono::NaiveDateTime;
use diesel::dsl;
use diesel::prelude::*;

use super::schema::{survey_settings, surveys, tickets};
use super::{Conn, StoreResult};
use crate::domain::{QueueAccess, QueueId, TenantId, TicketId};

type ScopedSettings = dsl::Filter<survey_settings::table, dsl::Eq<survey_settings::tenant_id, i64>>;
type Scoped = dsl::Filter<surveys::table, dsl::Eq<surveys::tenant_id, i64>>;

/// Every query on the settings starts here.
fn scoped_settings(t: TenantId) -> ScopedSettings {
    survey_settings::table.filter(survey_settings::tenant_id.eq(t.get()))
}

/// Every query on the surveys starts here.
fn scoped(t: TenantId) -> Scoped {
    surveys::table.filter(surveys::tenant_id.eq(t.get()))
}

/// A queue's survey setting as stored.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = survey_settings)]
pub struct Settings {
    pub enabled: bool,
    /// The kind of matter ("ärendetyp") the survey names.
    pub matter: String,
    /// At most one survey per contact in this many days.
    pub period_days: i32,
    /// How long after the resolution the survey goes out.
    pub delay_minutes: i32,
}

/// The queue's setting, if one was ever saved.
pub fn settings(c: &mut Conn, t: TenantId, q: QueueId) -> StoreResult<Option<Settings>> {
    Ok(scoped_settings(t)
        .filter(survey_settings::queue_id.eq(q.get()))
        .select(Settings::as_select())
        .first(c)
        .optional()?)
}

/// Save the queue's setting (insert or replace).
pub fn save_settings(c: &mut Conn, t: TenantId, q: QueueId, s: &Settings) -> StoreResult<()> {
    let values = (
        survey_settings::enabled.eq(s.enabled),
        survey_settings::matter.eq(&s.matter),
        survey_settings::period_days.eq(s.period_days),
        survey_settings::delay_minutes.eq(s.delay_minutes),
    );
    let n = diesel::update(scoped_settings(t).filter(survey_settings::queue_id.eq(q.get())))
        .set(values)
        .execute(c)?;
    if n == 0 {
        diesel::insert_into(survey_settings::table)
            .values((
                survey_settings::queue_id.eq(q.get()),
                survey_settings::tenant_id.eq(t.get()),
                values,
            ))
            .execute(c)?;
    }
    Ok(())
}

/// A survey row.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = surveys)]
pub struct Survey {
    pub id: i64,
    pub ticket_id: i64,
    pub queue_id: i64,
    pub contact_id: i64,
    pub matter: String,
    pub created_at: NaiveDateTime,
    pub sent_at: Option<NaiveDateTime>,
    pub channel: Option<String>,
    pub skipped: Option<String>,
    pub answered_at: Option<NaiveDateTime>,
    pub bemotande: Option<i32>,
    pub tydlighet: Option<i32>,
    pub enkelhet: Option<i32>,
    pub comment: Option<String>,
}

/// Whether the contact was offered a survey (queued or sent, not skipped) since `since`.
pub fn offered_since(
    c: &mut Conn,
    t: TenantId,
    contact: i64,
    since: NaiveDateTime,
) -> StoreResult<bool> {
    Ok(diesel::select(dsl::exists(
        scoped(t)
            .filter(surveys::contact_id.eq(contact))
            .filter(surveys::created_at.gt(since))
            .filter(surveys::skipped.is_null()),
    ))
    .get_result(c)?)
}

/// What a new survey is about.
pub struct NewSurvey<'a> {
    pub ticket: TicketId,
    pub queue: QueueId,
    pub contact: i64,
    pub matter: &'a str,
}

pub fn insert(
    c: &mut Conn,
    t: TenantId,
    s: &NewSurvey<'_>,
    now: NaiveDateTime,
) -> StoreResult<i64> {
    Ok(diesel::insert_into(surveys::table)
        .values((
            surveys::tenant_id.eq(t.get()),
            surveys::ticket_id.eq(s.ticket.get()),
            surveys::queue_id.eq(s.queue.get()),
            surveys::contact_id.eq(s.contact),
            surveys::matter.eq(s.matter),
            surveys::created_at.eq(now),
        ))
        .returning(surveys::id)
        .get_result(c)?)
}

pub fn get(c: &mut Conn, t: TenantId, id: i64) -> StoreResult<Option<Survey>> {
    Ok(scoped(t)
        .filter(surveys::id.eq(id))
        .select(Survey::as_select())
        .first(c)
        .optional()?)
}

/// Mark a queued survey sent on `channel`. False: it was already sent or skipped.
pub fn mark_sent(
    c: &mut Conn,
    t: TenantId,
    id: i64,
    channel: &str,
    now: NaiveDateTime,
) -> StoreResult<bool> {
    let n = diesel::update(
        scoped(t)
            .filter(surveys::id.eq(id))
            .filter(surveys::sent_at.is_null())
            .filter(surveys::skipped.is_null()),
    )
    .set((surveys::sent_at.eq(now), surveys::channel.eq(channel)))
    .execute(c)?;
    Ok(n == 1)
}

/// Mark a queued survey as not sent, and why.
pub fn mark_skipped(c: &mut Conn, t: TenantId, id: i64, why: &str) -> StoreResult<()> {
    diesel::update(
        scoped(t)
            .filter(surveys::id.eq(id))
            .filter(surveys::sent_at.is_null()),
    )
    .set(surveys::skipped.eq(why))
    .execute(c)?;
    Ok(())
}

/// The three scores of an answer, each 1–5.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scores {
    pub bemotande: i32,
    pub tydlighet: i32,
    pub enkelhet: i32,
}

/// Store the answer of a sent survey, once. False: it was answered already (or never sent).
pub fn answer(
    c: &mut Conn,
    t: TenantId,
    id: i64,
    s: Scores,
    comment: Option<&str>,
    now: NaiveDateTime,
) -> StoreResult<bool> {
    let n = diesel::update(
        scoped(t)
            .filter(surveys::id.eq(id))
            .filter(surveys::sent_at.is_not_null())
            .filter(surveys::answered_at.is_null()),
    )
    .set((
        surveys::answered_at.eq(now),
        surveys::bemotande.eq(s.bemotande),
        surveys::tydlighet.eq(s.tydlighet),
        surveys::enkelhet.eq(s.enkelhet),
        surveys::comment.eq(comment),
    ))
    .execute(c)?;
    Ok(n == 1)
}

/// The answers given in `[from, to)`, in the queues `access` reaches, with their ticket's
/// number, oldest first.
pub fn answered(
    c: &mut Conn,
    t: TenantId,
    access: &QueueAccess,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> StoreResult<Vec<(Survey, String)>> {
    let mut q = scoped(t)
        .inner_join(tickets::table)
        .filter(tickets::tenant_id.eq(t.get()))
        .filter(surveys::answered_at.ge(from))
        .filter(surveys::answered_at.lt(to))
        .select((Survey::as_select(), tickets::number))
        .order(surveys::answered_at.asc())
        .into_boxed();
    if let QueueAccess::Only(ids) = access {
        q = q.filter(surveys::queue_id.eq_any(ids.iter().map(|q| q.get()).collect::<Vec<_>>()));
    }
    Ok(q.load(c)?)
}
