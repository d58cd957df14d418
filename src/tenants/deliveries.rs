//! The admin's view of what could not be delivered (`/admin/deliveries`) and "Försök igen".
//! The outbox keeps the items; what a given-up or revived item means for its ticket is the
//! registered job's (`outbox::Job::on_dead`, `on_revive`).

use chrono::NaiveDateTime;

use crate::accounts::Actor;
use crate::error::{Error, Result};
use crate::outbox::Registry;
use crate::store::{self, Db};

/// Something that could not be delivered, as the admin page shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DeadLetter {
    pub id: i64,
    pub kind: String,
    pub ticket: Option<String>,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
    pub given_up_at: Option<NaiveDateTime>,
}

/// What was given up in the actor's tenant, newest first (admins).
pub async fn dead_letters(db: &Db, actor: &Actor) -> Result<Vec<DeadLetter>> {
    if !actor.is_admin() {
        return Err(Error::Forbidden("only admins see failed deliveries"));
    }
    let t = actor.tenant;
    Ok(db
        .read(move |c| store::outbox::dead(c, t, 200))
        .await?
        .into_iter()
        .map(|(i, number)| DeadLetter {
            id: i.id,
            kind: i.kind,
            ticket: number,
            attempts: i.attempts,
            last_error: i.last_error,
            created_at: i.created_at,
            given_up_at: i.dead_at,
        })
        .collect())
}

/// "Try again": a given-up item gets a new round of attempts from now (admins). Its ticket's
/// history says who asked; its job may note more (an escalation is back to "sending").
pub async fn retry(db: &Db, jobs: &std::sync::Arc<Registry>, actor: &Actor, id: i64) -> Result<()> {
    if !actor.is_admin() {
        return Err(Error::Forbidden("only admins retry deliveries"));
    }
    let (t, uid, jobs) = (actor.tenant, actor.user()?, jobs.clone());
    db.write(move |c| -> Result<()> {
        let now = store::now();
        let item = store::outbox::revive(c, t, id, now)?.ok_or(Error::NotFound("delivery"))?;
        if let Some(job) = jobs.get(&item.kind) {
            job.on_revive(c, &item, now)?;
        }
        if let Some(ticket) = item.ticket_id {
            store::tickets::insert_event(
                c,
                t,
                crate::domain::TicketId::from_db(ticket),
                Some(uid),
                "delivery_retried",
                &serde_json::json!({ "kind": item.kind }),
                now,
            )?;
        }
        Ok(())
    })
    .await
}
