//! An agent texts a ticket's contact: the message goes out through the municipality's SMS
//! gateway (`notify::sms`) via the outbox, and the ticket's history records it with its parts.

use serde_json::json;

use crate::accounts::{Actor, Scope};
use crate::domain::{InvalidValue, PhoneNumber, Reason, TicketNumber};
use crate::error::Result;
use crate::notify::sms::{MAX_CHARS, OUTBOX_KIND};
use crate::notify::sms_text;
use crate::store::{self, Db};

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
        let ticket = super::find(c, t, &access, &number)?;
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
