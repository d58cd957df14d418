//! The knowledge base beside a ticket: the articles that fit it, the ones it was answered with,
//! and a draft article made from its question and answer (the knowledge base itself is `kb`).

use crate::accounts::Actor;
use crate::domain::TicketNumber;
use crate::error::Result;
use crate::kb::{self, DraftSource, Kb, KbHit, RawContent};
use crate::store::Db;

use super::TicketDetail;

/// The citizen's question on a ticket: the first inbound message (else the first message).
fn question(d: &TicketDetail) -> String {
    d.messages
        .iter()
        .find(|m| m.kind == "inbound")
        .or(d.messages.first())
        .map(|m| m.body_text.clone())
        .unwrap_or_default()
}

/// The articles that fit a ticket the actor has already read (its subject and question).
pub async fn suggestions(
    db: &Db,
    kb: &Kb,
    actor: &Actor,
    d: &TicketDetail,
    limit: usize,
) -> Result<Vec<KbHit>> {
    kb::suggest(db, kb, actor, &d.ticket.subject, &question(d), limit).await
}

/// The articles a ticket the actor has already read was answered with: (id, slug, title).
pub async fn articles_used(
    db: &Db,
    actor: &Actor,
    d: &TicketDetail,
) -> Result<Vec<(i64, String, String)>> {
    kb::used_on(db, actor, d.ticket.id).await
}

/// A draft article from a ticket: the citizen's question and the last reply, with the
/// contact's and the agent's names and addresses stripped.
pub async fn draft_article(db: &Db, actor: &Actor, number: TicketNumber) -> Result<RawContent> {
    let d = super::get(db, actor, number).await?;
    let mut names: Vec<String> = Vec::new();
    if let Some(c) = &d.contact {
        names.extend(c.name.clone());
        names.extend(c.email.clone());
    }
    names.push(actor.name.clone());
    let question = d
        .messages
        .iter()
        .find(|m| m.kind == "inbound")
        .map(|m| m.body_text.clone())
        .unwrap_or_default();
    let answer = d
        .messages
        .iter()
        .rev()
        .find(|m| m.kind == "outbound")
        .map(|m| m.body_text.clone())
        .unwrap_or_default();
    let src = DraftSource {
        subject: d.ticket.subject.clone(),
        question,
        answer,
        names,
        queue: d.ticket.queue_id,
    };
    kb::draft(db, actor, src).await
}
