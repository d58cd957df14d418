//! Workspace actions beyond a plain update: transfer with a note, merge, link, tags, bulk changes
//! and presence. Each is one transaction that also writes the ticket's event history.

use serde_json::json;

use super::{NewMessageKind, UpdateInput, apply_message, apply_update, find, tags};
use crate::accounts::{Actor, Scope};
use crate::domain::Reason;
use crate::domain::{InvalidValue, Status, TicketNumber};
use crate::error::Conflict;
use crate::error::{Error, Result};
use crate::store::tickets::TicketChanges;
use crate::store::{self, Db};

/// Transfer a ticket to another department's queue, with an internal note saying why. The note
/// and the move are one change: the receiving department sees both or neither.
pub async fn transfer(
    db: &Db,
    actor: &Actor,
    number: TicketNumber,
    queue: i64,
    note: &str,
    keep_assignee: bool,
) -> Result<()> {
    actor.require(Scope::TicketsWrite)?;
    let note = note.trim().to_string();
    let (t, access, uid) = (actor.tenant, actor.queue_access(), actor.user()?);
    db.write(move |c| -> Result<()> {
        let ticket = find(c, t, &access, &number)?;
        if !note.is_empty() {
            apply_message(
                c,
                t,
                Some(uid),
                &ticket,
                NewMessageKind::Note,
                &note,
                String::new(),
                &[],
            )?;
        }
        let u = UpdateInput {
            queue: Some(queue),
            // The new department picks its own handler.
            assignee: (!keep_assignee).then_some(None),
            ..Default::default()
        };
        apply_update(c, t, Some(uid), &ticket, &u)?;
        Ok(())
    })
    .await
}

/// Merge `source` into `target`: the source's messages (with attachments), tags and links move to
/// the target, so later mail on either thread lands there; the source is closed and points at it.
pub async fn merge(
    db: &Db,
    actor: &Actor,
    source: TicketNumber,
    target: TicketNumber,
) -> Result<()> {
    actor.require(Scope::TicketsWrite)?;
    if source == target {
        return Err(InvalidValue::new("target", Reason::MergeIntoItself).into());
    }
    let (t, access, uid) = (actor.tenant, actor.queue_access(), actor.user()?);
    db.write(move |c| -> Result<()> {
        let src = find(c, t, &access, &source)?;
        let dst = find(c, t, &access, &target)?;
        if src.merged_into_id.is_some() {
            return Err(Error::Conflict(Conflict::AlreadyMerged {
                ticket: source.to_string(),
            }));
        }
        if dst.merged_into_id.is_some() {
            return Err(Error::Conflict(Conflict::MergeLoop {
                ticket: target.to_string(),
            }));
        }
        let now = store::now();
        let moved = store::tickets::move_messages(c, t, src.id, dst.id)?;
        store::workspace::copy_tags(c, t, src.id, dst.id, now)?;
        store::mail::link(c, t, dst.id, src.id, "merged", now)?;
        let mut ch = TicketChanges {
            merged_into: Some(dst.id),
            ..Default::default()
        };
        if src.status != Status::Closed {
            ch.status = Some(Status::Closed);
            ch.closed_at = Some(Some(now));
            if src.resolved_at.is_none() {
                ch.resolved_at = Some(Some(now));
            }
        }
        store::tickets::update(c, t, src.id, &ch, now)?;
        // The citizen's status links of the source end: its conversation lives on the target.
        store::tickets::bump_status_link_version(c, t, src.id)?;
        store::tickets::insert_event(
            c,
            t,
            src.id,
            Some(uid),
            "merged_into",
            &json!({ "ticket": dst.number, "messages": moved }),
            now,
        )?;
        // The surviving ticket is open again if it had been closed: it has new content.
        let reopen = UpdateInput {
            status: (!dst.status.is_open()).then_some(Status::Open),
            ..Default::default()
        };
        apply_update(c, t, Some(uid), &dst, &reopen)?;
        store::tickets::insert_event(
            c,
            t,
            dst.id,
            Some(uid),
            "merged_from",
            &json!({ "ticket": src.number, "messages": moved }),
            now,
        )?;
        Ok(())
    })
    .await
}

/// Link two related tickets (shown on both).
pub async fn link(db: &Db, actor: &Actor, a: TicketNumber, b: TicketNumber) -> Result<()> {
    actor.require(Scope::TicketsWrite)?;
    if a == b {
        return Err(InvalidValue::new("other", Reason::LinkToItself).into());
    }
    let (t, access, uid) = (actor.tenant, actor.queue_access(), actor.user()?);
    db.write(move |c| -> Result<()> {
        let x = find(c, t, &access, &a)?;
        let y = find(c, t, &access, &b)?;
        let already = store::mail::links(c, t, x.id)?
            .iter()
            .chain(store::workspace::linked_from(c, t, x.id)?.iter())
            .any(|(o, _)| *o == y.id);
        if already {
            return Ok(());
        }
        let now = store::now();
        store::mail::link(c, t, x.id, y.id, "related", now)?;
        for (one, other) in [(&x, &y), (&y, &x)] {
            store::tickets::insert_event(
                c,
                t,
                one.id,
                Some(uid),
                "linked",
                &json!({ "ticket": other.number }),
                now,
            )?;
        }
        Ok(())
    })
    .await
}

/// A contact's details as an agent edits them on a ticket.
#[derive(Debug, Clone, Default)]
pub struct ContactEdit {
    pub name: String,
    /// Empty: no phone number.
    pub phone: String,
    /// `email` or `sms`.
    pub preferred_channel: String,
    /// `sv` or `en`.
    pub language: String,
}

/// Change the ticket's contact: name, phone number, the channel they want to hear on, and the
/// language they are written to in. The e-mail address stays (it is how their mail finds them).
/// Every ticket of the contact gets a history line, which also brings them up to date in search.
pub async fn update_contact(
    db: &Db,
    actor: &Actor,
    number: TicketNumber,
    edit: ContactEdit,
) -> Result<()> {
    actor.require(Scope::TicketsWrite)?;
    let name = edit.name.trim().to_string();
    if name.chars().count() > 120 {
        return Err(InvalidValue::new("contact.name", Reason::TooLong { max: 120 }).into());
    }
    let phone = match edit.phone.trim() {
        "" => None,
        p => Some(
            crate::domain::PhoneNumber::parse(p)
                .map_err(|e| InvalidValue::new("contact.phone", e.reason))?,
        ),
    };
    let preferred = match edit.preferred_channel.trim() {
        "email" => "email",
        "sms" => "sms",
        _ => {
            return Err(InvalidValue::new(
                "contact.preferred_channel",
                Reason::one_of(&["email", "sms"]),
            )
            .into());
        }
    };
    if preferred == "sms" && phone.is_none() {
        return Err(InvalidValue::new("contact.preferred_channel", Reason::SmsNeedsPhone).into());
    }
    let language = crate::domain::Language::parse(&edit.language)
        .map_err(|e| InvalidValue::new("contact.language", e.reason))?;
    let (t, access, uid) = (actor.tenant, actor.queue_access(), actor.user()?);
    db.write(move |c| -> Result<()> {
        let ticket = find(c, t, &access, &number)?;
        let contact = ticket
            .contact_id
            .map(|id| store::contacts::get(c, t, id))
            .transpose()?
            .flatten()
            .ok_or(Error::NotFound("contact"))?;
        if preferred == "email" && contact.email.is_none() {
            return Err(
                InvalidValue::new("contact.preferred_channel", Reason::EmailNeedsAddress).into(),
            );
        }
        let name = (!name.is_empty()).then_some(name);
        let phone = phone.as_ref().map(|p| p.as_str().to_string());
        let mut changed = vec![];
        if contact.name != name {
            changed.push("name");
        }
        if contact.phone != phone {
            changed.push("phone");
        }
        if contact.preferred_channel != preferred {
            changed.push("preferred_channel");
        }
        if contact.language != language.as_str() {
            changed.push("language");
        }
        if changed.is_empty() {
            return Ok(());
        }
        store::contacts::update(
            c,
            t,
            contact.id,
            &store::contacts::ContactChange {
                name: name.as_deref(),
                phone: phone.as_deref(),
                preferred_channel: preferred,
                language,
            },
        )?;
        let now = store::now();
        let details = json!({ "changed": changed, "language": language, "ticket": number });
        for id in store::tickets::ids_of_contact(c, t, contact.id)? {
            store::tickets::touch(c, t, id, now)?;
            store::tickets::insert_event(c, t, id, Some(uid), "contact_changed", &details, now)?;
        }
        Ok(())
    })
    .await
}

/// Add or remove a tag.
pub async fn tag(db: &Db, actor: &Actor, number: TicketNumber, tag: &str, add: bool) -> Result<()> {
    actor.require(Scope::TicketsWrite)?;
    let tag = tags::parse(tag)?;
    let (t, access, uid) = (actor.tenant, actor.queue_access(), actor.user()?);
    db.write(move |c| -> Result<()> {
        let ticket = find(c, t, &access, &number)?;
        let now = store::now();
        let changed = if add {
            store::workspace::add_tag(c, t, ticket.id, &tag, now)?
        } else {
            store::workspace::remove_tag(c, t, ticket.id, &tag)?
        };
        if changed {
            store::tickets::touch(c, t, ticket.id, now)?;
            store::tickets::insert_event(
                c,
                t,
                ticket.id,
                Some(uid),
                if add { "tag_added" } else { "tag_removed" },
                &json!({ "tag": tag }),
                now,
            )?;
        }
        Ok(())
    })
    .await
}

/// What a bulk action does to each chosen ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkAction {
    AssignToMe,
    Assign(i64),
    Unassign,
    MoveTo(i64),
    Close,
}

pub const MAX_BULK: usize = 200;

/// Apply one action to many tickets in one transaction. Tickets the actor cannot see are not
/// touched (and not reported: they are indistinguishable from missing ones). Returns how many
/// tickets changed.
pub async fn bulk(
    db: &Db,
    actor: &Actor,
    numbers: Vec<TicketNumber>,
    action: BulkAction,
) -> Result<usize> {
    actor.require(Scope::TicketsWrite)?;
    if numbers.is_empty() {
        return Err(InvalidValue::new("tickets", Reason::ChooseAtLeastOne).into());
    }
    if numbers.len() > MAX_BULK {
        return Err(InvalidValue::new("tickets", Reason::TooMany { max: MAX_BULK }).into());
    }
    let (t, access, uid) = (actor.tenant, actor.queue_access(), actor.user()?);
    let u = match action {
        BulkAction::AssignToMe => UpdateInput {
            assignee: Some(Some(uid.get())),
            ..Default::default()
        },
        BulkAction::Assign(user) => UpdateInput {
            assignee: Some(Some(user)),
            ..Default::default()
        },
        BulkAction::Unassign => UpdateInput {
            assignee: Some(None),
            ..Default::default()
        },
        BulkAction::MoveTo(q) => UpdateInput {
            queue: Some(q),
            assignee: Some(None),
            ..Default::default()
        },
        BulkAction::Close => UpdateInput {
            status: Some(Status::Closed),
            ..Default::default()
        },
    };
    db.write(move |c| -> Result<usize> {
        let mut changed = 0;
        for n in &numbers {
            let Some(ticket) = store::tickets::by_number(c, t, &access, n)? else {
                continue;
            };
            if apply_update(c, t, Some(uid), &ticket, &u)? {
                changed += 1;
            }
        }
        Ok(changed)
    })
    .await
}

/// How long "NN is writing a reply" lasts without a new heartbeat.
pub const PRESENCE_SECS: i64 = 30;

/// Say that the actor is writing on a ticket (`writing`) or has stopped.
pub async fn presence(db: &Db, actor: &Actor, number: TicketNumber, writing: bool) -> Result<()> {
    actor.require(Scope::TicketsRead)?;
    let (t, access, uid) = (actor.tenant, actor.queue_access(), actor.user()?);
    db.write(move |c| -> Result<()> {
        let ticket = find(c, t, &access, &number)?;
        let now = store::now();
        let until = if writing {
            now + chrono::Duration::seconds(PRESENCE_SECS)
        } else {
            now
        };
        store::workspace::touch_presence(c, t, ticket.id, uid, until, now)?;
        Ok(())
    })
    .await
}

/// Who else is writing on a ticket now (display names).
pub async fn writers(db: &Db, actor: &Actor, number: TicketNumber) -> Result<Vec<String>> {
    actor.require(Scope::TicketsRead)?;
    let (t, access, uid) = (actor.tenant, actor.queue_access(), actor.user()?);
    db.read(move |c| -> Result<Vec<String>> {
        let ticket = find(c, t, &access, &number)?;
        Ok(store::workspace::writers(c, t, ticket.id, store::now())?
            .into_iter()
            .filter(|(u, _)| *u != uid)
            .map(|(_, n)| n)
            .collect())
    })
    .await
}
