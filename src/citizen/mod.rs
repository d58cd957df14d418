//! The citizen's status page: a signed, expiring link (a JWT naming the tenant and the ticket)
//! shows the ticket's status and public conversation — never internal notes — and lets the
//! citizen reply and attach a file, which lands on the ticket as an inbound message.
//!
//! Without the link, a citizen gives the ticket number and the e-mail address it came from; when
//! both match, a fresh link is mailed to that address. The answer is the same either way, so the
//! form tells nobody whether a ticket exists.

use chrono::{NaiveDateTime, Utc};
use serde::Serialize;
use serde_json::json;

use crate::accounts::tokens::Signer;
use crate::domain::{
    EmailAddress, InvalidValue, MessageKind, Status, TenantId, TicketId, TicketNumber,
};
use crate::error::{Error, Result};
use crate::mail::intake::StoredAttachment;
use crate::store::{self, Db};

/// A fresh link to `ticket`'s status page, valid for `days`.
pub fn link(
    signer: &Signer,
    public_url: &str,
    tenant: TenantId,
    ticket: TicketId,
    days: i64,
) -> String {
    let token = signer.sign_claims(&StatusClaims {
        k: STATUS_KIND.into(),
        t: tenant.get(),
        i: ticket.get(),
        exp: Utc::now().timestamp() + days.max(1) * 86_400,
    });
    format!("{}/status/{token}", public_url.trim_end_matches('/'))
}

const STATUS_KIND: &str = "status";

/// A status link's claims, kept short (the link also goes out by SMS).
#[derive(Debug, Serialize, serde::Deserialize)]
struct StatusClaims {
    /// Always "status".
    k: String,
    /// Tenant id.
    t: i64,
    /// Ticket id.
    i: i64,
    exp: i64,
}

/// A tampered or expired link opens nothing (and says nothing about the ticket).
fn verify(signer: &Signer, token: &str) -> Result<(TenantId, TicketId)> {
    let c: StatusClaims = signer
        .verify_claims(token)
        .filter(|c: &StatusClaims| c.k == STATUS_KIND)
        .ok_or(Error::Forbidden("the link is invalid or has expired"))?;
    Ok((TenantId::from_db(c.t), TicketId::from_db(c.i)))
}

#[derive(Debug, Clone, Serialize)]
pub struct PublicMessage {
    /// `inbound` (the citizen) or `outbound` (the municipality).
    pub kind: String,
    pub text: String,
    pub at: NaiveDateTime,
    pub files: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StatusView {
    pub number: String,
    pub subject: String,
    pub status: Status,
    pub waiting_for_you: bool,
    pub queue: String,
    pub tenant: String,
    pub diarienummer: Option<String>,
    pub created_at: NaiveDateTime,
    pub messages: Vec<PublicMessage>,
    /// The contact's language (`sv`/`en`): the page speaks it unless the citizen switches.
    pub language: String,
}

/// The page behind a link.
pub async fn open(db: &Db, signer: &Signer, token: &str) -> Result<StatusView> {
    let (t, id) = verify(signer, token)?;
    db.read(move |c| -> Result<StatusView> {
        let tk = store::tickets::get(c, t, id).map_err(|_| Error::NotFound("ticket"))?;
        let files = store::tickets::attachments(c, t, id)?;
        let messages = store::tickets::messages(c, t, id)?
            .into_iter()
            .filter(|m| {
                m.kind == MessageKind::Inbound.as_str() || m.kind == MessageKind::Outbound.as_str()
            })
            .map(|m| PublicMessage {
                files: files
                    .iter()
                    .filter(|a| a.message_id == m.id && !a.inline)
                    .map(|a| a.filename.clone())
                    .collect(),
                kind: m.kind,
                text: m.body_text,
                at: m.created_at,
            })
            .collect();
        let queue = store::queues::list(c, t)?
            .into_iter()
            .find(|q| q.id == tk.queue_id)
            .map(|q| q.name)
            .unwrap_or_default();
        Ok(StatusView {
            number: tk.number.to_string(),
            subject: tk.subject,
            status: tk.status,
            waiting_for_you: tk.status == Status::Waiting
                && tk.waiting_on == Some(crate::domain::WaitingOn::Citizen),
            queue,
            tenant: store::tenants::get(c, t)?.name,
            diarienummer: store::escalation::diarienummer(c, t, id)?,
            created_at: tk.created_at,
            messages,
            language: match tk.contact_id {
                Some(cid) => store::contacts::get(c, t, cid)?
                    .map(|x| x.language)
                    .unwrap_or_else(|| "sv".into()),
                None => "sv".into(),
            },
        })
    })
    .await
}

/// Longest reply through the status page.
pub const MAX_REPLY_CHARS: usize = 10_000;

/// The citizen replies on the status page: an inbound message (with files) on the ticket, which
/// opens a waiting or resolved ticket again.
pub async fn reply(
    db: &Db,
    signer: &Signer,
    token: &str,
    text: &str,
    files: Vec<StoredAttachment>,
) -> Result<()> {
    let (t, id) = verify(signer, token)?;
    let text = text.trim().replace("\r\n", "\n");
    if text.is_empty() && files.is_empty() {
        return Err(InvalidValue::new("text", "write something or attach a file").into());
    }
    if text.chars().count() > MAX_REPLY_CHARS {
        return Err(
            InvalidValue::new("text", format!("at most {MAX_REPLY_CHARS} characters")).into(),
        );
    }
    if files.len() > crate::tickets::MAX_ATTACHMENTS {
        return Err(InvalidValue::new(
            "files",
            format!("at most {} files", crate::tickets::MAX_ATTACHMENTS),
        )
        .into());
    }
    db.write(move |c| -> Result<()> {
        let now = store::now();
        let tk = store::tickets::get(c, t, id).map_err(|_| Error::NotFound("ticket"))?;
        let from = match tk.contact_id {
            Some(cid) => store::contacts::get(c, t, cid)?.and_then(|x| x.email),
            None => None,
        };
        crate::tickets::open_for_citizen_message(c, t, &tk, now)?;
        let msg = store::tickets::insert_message(
            c,
            t,
            id,
            store::tickets::NewMessage {
                kind: MessageKind::Inbound,
                author: None,
                from_addr: from.as_deref(),
                to_addrs: "",
                cc_addrs: "",
                subject: &format!("Svar via statussidan [{}]", tk.number),
                body_text: &text,
                body_html: None,
                message_id: None,
                in_reply_to: None,
                references: None,
                raw_sha256: None,
                now,
            },
        )?;
        for f in &files {
            store::tickets::insert_attachment(c, t, msg.id, f, now)?;
        }
        store::tickets::touch(c, t, id, now)?;
        store::tickets::insert_event(
            c,
            t,
            id,
            None,
            "citizen_replied",
            &json!({ "via": "status_page", "files": files.len() }),
            now,
        )?;
        Ok(())
    })
    .await
}

/// A citizen asking for a fresh link.
pub struct LinkRequest<'a> {
    pub public_url: &'a str,
    pub mail_from: &'a str,
    pub tenant_slug: &'a str,
    pub number: &'a str,
    pub email: &'a str,
    pub days: i64,
    /// The asker's IP address, and the limits (`notify.link_requests_per_ip`, `…_per_ticket`).
    pub ip: &'a str,
    pub per_ip: u32,
    pub per_ticket: u32,
}

/// "I have no link": when `number` is a ticket of the tenant that came from `email`, mail a
/// fresh link to that address. Says nothing either way.
///
/// Every request counts against the asker's IP address: past `per_ip` in an hour the answer is
/// `Throttled` for an hour (guessing numbers and addresses is slow). A ticket's citizen gets at
/// most `per_ticket` link mails an hour (nobody can flood their inbox); beyond that the request
/// is answered the same and sends nothing.
pub async fn request_link(db: &Db, signer: &Signer, r: &LinkRequest<'_>) -> Result<()> {
    let hour = chrono::Duration::hours(1);
    let ip_key = format!("link-ip:{}", r.ip);
    let per_ip = r.per_ip;
    let now = store::now();
    db.write(move |c| -> Result<()> {
        let keys = [ip_key.clone()];
        if let Some(secs) = crate::accounts::throttle::locked_for(c, &keys, now)? {
            return Err(Error::Throttled {
                retry_after_secs: secs,
            });
        }
        crate::accounts::throttle::count(c, &ip_key, per_ip, hour, hour, now)?;
        Ok(())
    })
    .await?;
    let (Ok(number), Ok(email)) = (
        TicketNumber::parse(r.number.trim()),
        EmailAddress::parse(r.email),
    ) else {
        return Ok(());
    };
    let per_ticket = r.per_ticket;
    let days = r.days;
    let (slug, public_url, mail_from) = (
        r.tenant_slug.to_string(),
        r.public_url.to_string(),
        r.mail_from.to_string(),
    );
    let signer_key = signer.clone();
    db.write(move |c| -> Result<()> {
        let Some(tenant) = store::tenants::by_slug(c, &slug)? else {
            return Ok(());
        };
        let t = tenant.id;
        let Some(tk) = store::tickets::by_number(c, t, &crate::domain::QueueAccess::All, &number)?
        else {
            return Ok(());
        };
        let Some((contact_email, lang)) = tk
            .contact_id
            .map(|id| store::contacts::get(c, t, id))
            .transpose()?
            .flatten()
            .and_then(|x| x.email.map(|e| (e, x.language)))
        else {
            return Ok(());
        };
        let lang = crate::domain::Language::parse(&lang)
            .unwrap_or(crate::domain::Language::Sv)
            .as_str();
        if !contact_email.eq_ignore_ascii_case(email.as_str()) {
            return Ok(());
        }
        let now = store::now();
        let ticket_key = [format!("link-mail:{}:{}", t.get(), tk.id.get())];
        if crate::accounts::throttle::locked_for(c, &ticket_key, now)?.is_some() {
            return Ok(());
        }
        crate::accounts::throttle::count(c, &ticket_key[0], per_ticket, hour, hour, now)?;
        let url = link(&signer_key, &public_url, t, tk.id, days);
        let templates = crate::web::templates::Templates::get();
        let text = templates
            .render_text(
                &format!("notify/link.mail.{lang}"),
                &json!({ "number": tk.number, "link": url, "tenant": tenant.name, "days": days }),
            )
            .map_err(|e| Error::Internal(e.to_string()))?;
        let subject = templates
            .text(lang, "notify.subject.link")
            .replace("{number}", &tk.number.to_string());
        store::outbox::enqueue(
            c,
            t,
            crate::mail::OUTBOX_KIND,
            &serde_json::to_value(crate::mail::OutgoingMail {
                message_id: Some(crate::mail::new_message_id(&tk.number, &mail_from)),
                from: mail_from.clone(),
                to: vec![contact_email],
                subject,
                text: text.trim().to_string(),
                in_reply_to: None,
                references: vec![],
                message_row: None,
                mailbox: tk.mailbox_id,
                auto_submitted: true,
                attachments: vec![],
            })
            .map_err(|e| Error::Internal(e.to_string()))?,
            Some(tk.id),
            now,
        )?;
        store::tickets::insert_event(c, t, tk.id, None, "status_link_sent", &json!({}), now)?;
        Ok(())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::Keys;

    #[test]
    fn a_link_opens_its_ticket_only_untampered_and_unexpired() {
        let signer = Signer::new(&Keys::from_hex(&"ab".repeat(32)).unwrap());
        let url = link(
            &signer,
            "https://arendo.example",
            TenantId::from_db(3),
            TicketId::from_db(77),
            30,
        );
        let token = url.strip_prefix("https://arendo.example/status/").unwrap();
        assert_eq!(
            verify(&signer, token).unwrap(),
            (TenantId::from_db(3), TicketId::from_db(77))
        );
        assert!(
            token.len() < 160,
            "short enough for an SMS: {}",
            token.len()
        );
        // Tampered: any changed character of the signature.
        let mut bad = token.to_string();
        let last = bad.pop().unwrap();
        bad.push(if last == 'A' { 'B' } else { 'A' });
        assert!(verify(&signer, &bad).is_err());
        // Another installation's key.
        let other = Signer::new(&Keys::from_hex(&"cd".repeat(32)).unwrap());
        assert!(verify(&other, token).is_err());
        // Expired.
        let old = signer.sign_claims(&StatusClaims {
            k: STATUS_KIND.into(),
            t: 3,
            i: 77,
            exp: Utc::now().timestamp() - 3600,
        });
        assert!(verify(&signer, &old).is_err());
        // A session token is not a status link.
        let session = signer.sign(&crate::accounts::tokens::Claims {
            sub: 77,
            tid: 3,
            jti: "x".into(),
            typ: crate::accounts::tokens::TokenKind::Session,
            iat: 0,
            exp: Utc::now().timestamp() + 3600,
            scp: vec![],
        });
        assert!(verify(&signer, &session).is_err());
    }
}
