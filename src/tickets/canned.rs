//! Canned responses (färdiga svar): texts agents insert into a reply, with variables filled from
//! the ticket — `{{contact.name}}`, `{{ticket.number}}`, `{{ticket.subject}}`, `{{queue.name}}`,
//! `{{agent.name}}`. Admins manage them for the whole tenant; queue leads for their queues.

use serde_json::json;

use crate::accounts::{Actor, Scope};
use crate::domain::Reason;
use crate::domain::{InvalidValue, MembershipRole, QueueId, TicketNumber};
use crate::error::Conflict;
use crate::error::{Error, Result};
use crate::store::workspace::Canned;
use crate::store::{self, Db};
use crate::text::Templates;

pub const MAX_TITLE: usize = 120;
pub const MAX_BODY: usize = 20_000;

#[derive(Debug, Clone)]
pub struct CannedInput {
    /// None: every queue of the tenant.
    pub queue: Option<i64>,
    pub title: String,
    pub body: String,
}

struct Checked {
    queue: Option<QueueId>,
    title: String,
    body: String,
}

fn check(c: &mut store::Conn, actor: &Actor, input: CannedInput) -> Result<Checked> {
    let title = input.title.trim().to_string();
    if title.is_empty() || title.chars().count() > MAX_TITLE {
        return Err(InvalidValue::new(
            "title",
            Reason::Length {
                min: 1,
                max: MAX_TITLE,
            },
        )
        .into());
    }
    let body = input.body.replace("\r\n", "\n");
    if body.trim().is_empty() || body.chars().count() > MAX_BODY {
        return Err(InvalidValue::new(
            "body",
            Reason::Length {
                min: 1,
                max: MAX_BODY,
            },
        )
        .into());
    }
    Templates::get()
        .check_str(&body)
        .map_err(|e| InvalidValue::new("body", Reason::template_at(e.pos())))?;
    let queue = match input.queue {
        Some(raw) => Some(
            store::queues::lookup(c, actor.tenant, raw)?
                .ok_or(Error::NotFound("queue"))?
                .id,
        ),
        None => None,
    };
    may_manage(actor, queue)?;
    Ok(Checked { queue, title, body })
}

/// Admins manage every canned response; a queue lead those of the queues they lead.
fn may_manage(actor: &Actor, queue: Option<QueueId>) -> Result<()> {
    if actor.is_admin() {
        return Ok(());
    }
    let leads = |q: QueueId| {
        actor
            .memberships
            .iter()
            .any(|(id, r)| *id == q && *r == MembershipRole::Lead)
    };
    match queue {
        Some(q) if leads(q) => Ok(()),
        _ => Err(Error::Forbidden(
            "only admins and the queue's leads manage its canned responses",
        )),
    }
}

/// The canned responses an actor may manage (all for admins; a lead's queues otherwise).
pub async fn manageable(db: &Db, actor: &Actor) -> Result<Vec<Canned>> {
    actor.require(Scope::TicketsRead)?;
    let a = actor.clone();
    db.read(move |c| -> Result<Vec<Canned>> {
        Ok(store::workspace::canned(c, a.tenant, None)?
            .into_iter()
            .filter(|x| may_manage(&a, x.queue()).is_ok())
            .collect())
    })
    .await
}

pub async fn create(db: &Db, actor: &Actor, input: CannedInput) -> Result<i64> {
    actor.require(Scope::TicketsWrite)?;
    let a = actor.clone();
    db.write(move |c| -> Result<i64> {
        let x = check(c, &a, input)?;
        Ok(store::workspace::insert_canned(
            c,
            a.tenant,
            x.queue,
            &x.title,
            &x.body,
            store::now(),
        )?)
    })
    .await
}

pub async fn update(db: &Db, actor: &Actor, id: i64, input: CannedInput) -> Result<()> {
    actor.require(Scope::TicketsWrite)?;
    let a = actor.clone();
    db.write(move |c| -> Result<()> {
        let old =
            store::workspace::canned_by_id(c, a.tenant, id)?.ok_or(Error::NotFound("canned"))?;
        may_manage(&a, old.queue())?;
        let x = check(c, &a, input)?;
        store::workspace::update_canned(c, a.tenant, id, x.queue, &x.title, &x.body, store::now())?;
        Ok(())
    })
    .await
}

pub async fn delete(db: &Db, actor: &Actor, id: i64) -> Result<()> {
    actor.require(Scope::TicketsWrite)?;
    let a = actor.clone();
    db.write(move |c| -> Result<()> {
        let old =
            store::workspace::canned_by_id(c, a.tenant, id)?.ok_or(Error::NotFound("canned"))?;
        may_manage(&a, old.queue())?;
        store::workspace::delete_canned(c, a.tenant, id)?;
        Ok(())
    })
    .await
}

/// One canned response for editing, if the actor may manage it.
pub async fn get(db: &Db, actor: &Actor, id: i64) -> Result<Canned> {
    actor.require(Scope::TicketsRead)?;
    let a = actor.clone();
    db.read(move |c| -> Result<Canned> {
        let x =
            store::workspace::canned_by_id(c, a.tenant, id)?.ok_or(Error::NotFound("canned"))?;
        may_manage(&a, x.queue())?;
        Ok(x)
    })
    .await
}

/// The canned responses usable on a ticket (its queue's and the tenant-wide ones).
pub async fn for_ticket(db: &Db, actor: &Actor, number: TicketNumber) -> Result<Vec<Canned>> {
    actor.require(Scope::TicketsRead)?;
    let (t, access) = (actor.tenant, actor.queue_access());
    db.read(move |c| -> Result<Vec<Canned>> {
        let ticket = super::find(c, t, &access, &number)?;
        Ok(store::workspace::canned(c, t, Some(ticket.queue_id))?)
    })
    .await
}

/// A canned response with its variables filled in for a ticket, ready for the reply box.
pub async fn render_for_ticket(
    db: &Db,
    actor: &Actor,
    number: TicketNumber,
    id: i64,
) -> Result<String> {
    actor.require(Scope::TicketsRead)?;
    let (t, access, agent) = (actor.tenant, actor.queue_access(), actor.name.clone());
    let (canned, vars) = db
        .read(move |c| -> Result<_> {
            let ticket = super::find(c, t, &access, &number)?;
            let canned = store::workspace::canned_by_id(c, t, id)?
                .filter(|x| x.queue().is_none_or(|q| q == ticket.queue_id))
                .ok_or(Error::NotFound("canned"))?;
            let contact = match ticket.contact_id {
                Some(id) => store::contacts::get(c, t, id)?,
                None => None,
            };
            let queue = store::queues::lookup(c, t, ticket.queue_id.get())?;
            let vars = json!({
                "contact": {
                    "name": contact.as_ref().and_then(|c| c.name.clone()).unwrap_or_default(),
                    "email": contact.as_ref().and_then(|c| c.email.clone()).unwrap_or_default(),
                },
                "ticket": { "number": ticket.number, "subject": ticket.subject },
                "queue": { "name": queue.map(|q| q.name).unwrap_or_default() },
                "agent": { "name": agent },
            });
            Ok((canned, vars))
        })
        .await?;
    Templates::get()
        .render_str(&canned.body, &vars)
        .map_err(|e| {
            tracing::debug!(error = %e, "canned response not filled in");
            Error::Conflict(Conflict::CannedFill)
        })
}
