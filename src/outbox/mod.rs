//! Delivery of outbox items. Workers on every node claim due items with a lease, deliver them, and
//! record the outcome; failures are retried with exponential backoff and jitter, and after
//! `MAX_ATTEMPTS` the item is dead-lettered (kept, with its last error, for an operator).
//! Delivery is at-least-once: an item whose worker dies after sending but before recording is sent
//! again when its lease expires, so receivers get an idempotency key (the Message-ID for mail).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::NaiveDateTime;

use crate::domain::TenantId;
use crate::mail::{self, Mailer, OutgoingMail, SmtpProfile};
use crate::secrets::Keys;
use crate::store::blobs::BlobStore;
use crate::store::{self, Db, outbox::Item};

/// The lease on a claimed item unless `outbox.lease_seconds` says otherwise.
const LEASE_SECS: i64 = 120;
const BATCH: i64 = 32;

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("temporary failure: {0}")]
    Retry(String),
    #[error("permanent failure: {0}")]
    Permanent(String),
}

/// An item given up on: its ticket's history says so (an escalation also changes its state).
fn dead_letter(
    c: &mut store::Conn,
    kind: &str,
    payload: &str,
    tenant: TenantId,
    ticket: Option<i64>,
    error: &str,
    now: NaiveDateTime,
) -> Result<(), store::StoreError> {
    match kind {
        crate::escalation::OUTBOX_KIND => {
            crate::escalation::on_dead(c, tenant, payload, error, now)
        }
        crate::notify::sms::OUTBOX_KIND => {
            crate::notify::sms::on_dead(c, tenant, payload, error)?;
            dead_letter_event(c, tenant, ticket, error, now)
        }
        _ => dead_letter_event(c, tenant, ticket, error, now),
    }
}

/// A mail that will not be delivered shows on its ticket.
fn dead_letter_event(
    c: &mut store::Conn,
    tenant: TenantId,
    ticket: Option<i64>,
    error: &str,
    now: NaiveDateTime,
) -> Result<(), store::StoreError> {
    if let Some(tk) = ticket {
        store::tickets::insert_event(
            c,
            tenant,
            crate::domain::TicketId::from_db(tk),
            None,
            "delivery_failed",
            &serde_json::json!({ "error": error }),
            now,
        )?;
    }
    Ok(())
}

/// How failed deliveries are retried (config `[outbox]`).
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// The wait after the first failure; it doubles with every further one.
    pub base: Duration,
    /// The longest wait.
    pub cap: Duration,
    /// Attempts in all; after the last failure the item is dead-lettered.
    pub max_attempts: i32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            base: Duration::from_secs(30),
            cap: Duration::from_secs(3600),
            max_attempts: 12,
        }
    }
}

/// When to try again after `attempts` failed attempts: base, 2 × base, 4 × base … capped, ±20 %
/// (jitter, so many items failing together do not come back together); `None`: give up.
pub fn backoff(policy: RetryPolicy, attempts: i32, now: NaiveDateTime) -> Option<NaiveDateTime> {
    if attempts >= policy.max_attempts {
        return None;
    }
    let base_ms = policy.base.as_millis() as i64;
    let wait = base_ms
        .saturating_mul(1i64 << (attempts.clamp(1, 21) - 1) as u32)
        .min(policy.cap.as_millis() as i64);
    let jitter = (wait as f64 * (rand::random::<f64>() * 0.4 - 0.2)) as i64;
    Some(now + chrono::Duration::milliseconds((wait + jitter).max(1)))
}

#[derive(Clone)]
pub struct Worker {
    db: Db,
    /// The installation's default transport (config `[mail]`).
    mailer: Arc<Mailer>,
    keys: Arc<Keys>,
    /// Transports built from tenants' and mailboxes' own SMTP settings, by their JSON.
    profiles: Arc<Mutex<HashMap<String, Arc<Mailer>>>>,
    owner: String,
    /// How long a claimed item stays this node's (`outbox.lease_seconds`).
    lease: chrono::Duration,
    blobs: BlobStore,
    retry: RetryPolicy,
    /// For links in what is sent (ticket and attachment addresses).
    public_url: String,
    /// Where the local SMS provider writes its files.
    data_dir: std::path::PathBuf,
    /// How notifications to citizens are written.
    citizen: crate::notify::citizen::Config,
    /// How citizens' link requests ("Följ ditt ärende") are answered.
    link_mails: crate::citizen::LinkMails,
    /// What addresses set by tenants (records systems, SMS gateways, SMTP servers) may be.
    egress: Arc<crate::egress::Policy>,
}

impl Worker {
    pub fn new(db: Db, mailer: Mailer, keys: Arc<Keys>, blobs: BlobStore, node: String) -> Worker {
        Worker {
            db,
            mailer: Arc::new(mailer),
            profiles: Arc::default(),
            owner: node,
            lease: chrono::Duration::seconds(LEASE_SECS),
            blobs,
            retry: RetryPolicy::default(),
            public_url: String::new(),
            data_dir: std::path::PathBuf::from("data"),
            citizen: crate::notify::citizen::Config {
                from: String::new(),
                content_free_from_class: 2,
                public_url: String::new(),
                signer: crate::accounts::tokens::Signer::new(&keys),
                status_link_days: 30,
            },
            link_mails: crate::citizen::LinkMails {
                signer: crate::accounts::tokens::Signer::new(&keys),
                public_url: String::new(),
                from: String::new(),
                days: 30,
                per_ticket: 3,
            },
            keys,
            egress: Arc::default(),
        }
    }

    /// Retry with `policy` and make links relative to `public_url`.
    pub fn configured(mut self, settings: &crate::config::Settings) -> Worker {
        self.retry = settings.outbox.policy();
        self.lease = chrono::Duration::seconds(i64::from(settings.outbox.lease_seconds.max(5)));
        self.public_url = settings.server.public_url.clone();
        self.data_dir = settings.data_dir.clone();
        self.egress = Arc::new(crate::egress::Policy::from_settings(settings));
        self.citizen = crate::notify::citizen::Config {
            from: settings.mail.from.clone(),
            content_free_from_class: settings.notify.content_free_from_class,
            public_url: settings.server.public_url.clone(),
            signer: crate::accounts::tokens::Signer::new(&self.keys),
            status_link_days: i64::from(settings.notify.status_link_days),
        };
        self.link_mails = crate::citizen::LinkMails {
            signer: crate::accounts::tokens::Signer::new(&self.keys),
            public_url: settings.server.public_url.clone(),
            from: settings.mail.from.clone(),
            days: i64::from(settings.notify.status_link_days),
            per_ticket: settings.notify.link_mails_per_ticket,
        };
        self
    }

    /// The transport for a mail: the mailbox's SMTP settings, else the tenant's, else the default.
    async fn mailer_for(
        &self,
        tenant: TenantId,
        mailbox: Option<i64>,
    ) -> Result<Arc<Mailer>, DeliveryError> {
        let (t, m) = self
            .db
            .read(move |c| store::mail::smtp_settings(c, tenant, mailbox))
            .await
            .map_err(|e| DeliveryError::Retry(e.to_string()))?;
        let Some(json) = m.or(t) else {
            return Ok(self.mailer.clone());
        };
        let profile: SmtpProfile = serde_json::from_str(&json).map_err(|e| {
            DeliveryError::Permanent(format!("stored SMTP settings unreadable: {e}"))
        })?;
        // A tenant's server passes the egress policy; the transport connects to the checked
        // address (so it is kept per address).
        let addr = mail::smtp_address(&self.egress, &profile).await?;
        let key = format!("{addr} {json}");
        if let Some(found) = self.profiles.lock().expect("not poisoned").get(&key) {
            return Ok(found.clone());
        }
        let mailer = Arc::new(
            Mailer::from_profile(&profile, addr, &self.keys)
                .map_err(|e| DeliveryError::Permanent(e.to_string()))?,
        );
        self.profiles
            .lock()
            .expect("not poisoned")
            .insert(key, mailer.clone());
        Ok(mailer)
    }

    /// Claim and deliver one batch. Returns how many items were handled.
    pub async fn run_once(&self) -> anyhow::Result<usize> {
        let owner = self.owner.clone();
        let lease = self.lease;
        let items: Vec<Item> = self
            .db
            .write(move |c| -> Result<_, store::StoreError> {
                let now = store::now();
                store::outbox::claim(
                    c,
                    &[
                        mail::OUTBOX_KIND,
                        crate::escalation::OUTBOX_KIND,
                        crate::notify::sms::OUTBOX_KIND,
                        crate::notify::citizen::OUTBOX_KIND,
                        crate::escalation::referral::MAIL_KIND,
                        crate::escalation::referral::DEADLINE_KIND,
                        crate::citizen::LINK_REQUEST_KIND,
                    ],
                    &owner,
                    now,
                    now + lease,
                    BATCH,
                )
            })
            .await?;
        let n = items.len();
        for item in items {
            let outcome = self.deliver(&item).await;
            let owner = self.owner.clone();
            let id = item.id;
            let attempts = item.attempts;
            let (tenant, ticket) = (TenantId::from_db(item.tenant_id), item.ticket_id);
            let (kind, payload) = (item.kind.clone(), item.payload.clone());
            let policy = self.retry;
            self.db
                .write(move |c| -> Result<(), store::StoreError> {
                    let now = store::now();
                    match outcome {
                        Ok(()) => {
                            store::outbox::complete(c, id, &owner, now)?;
                        }
                        Err(DeliveryError::Retry(e)) => {
                            let retry = backoff(policy, attempts, now);
                            tracing::warn!(item = id, attempts, error = %e, "delivery failed");
                            store::outbox::fail(c, id, &owner, &e, retry, now)?;
                            if retry.is_none() {
                                dead_letter(c, &kind, &payload, tenant, ticket, &e, now)?;
                            }
                        }
                        Err(DeliveryError::Permanent(e)) => {
                            tracing::error!(item = id, error = %e, "delivery failed permanently");
                            store::outbox::fail(c, id, &owner, &e, None, now)?;
                            dead_letter(c, &kind, &payload, tenant, ticket, &e, now)?;
                        }
                    }
                    Ok(())
                })
                .await?;
        }
        Ok(n)
    }

    async fn deliver(&self, item: &Item) -> Result<(), DeliveryError> {
        match item.kind.as_str() {
            mail::OUTBOX_KIND => {
                let m: OutgoingMail = serde_json::from_str(&item.payload)
                    .map_err(|e| DeliveryError::Permanent(format!("bad payload: {e}")))?;
                let mailer = self
                    .mailer_for(TenantId::from_db(item.tenant_id), m.mailbox)
                    .await?;
                let (blobs, wanted) = (self.blobs.clone(), m.attachments.clone());
                let files = tokio::task::spawn_blocking(move || {
                    wanted
                        .iter()
                        .map(|a| blobs.get(&a.sha256))
                        .collect::<std::io::Result<Vec<_>>>()
                })
                .await
                .map_err(|e| DeliveryError::Retry(e.to_string()))?
                .map_err(|e| DeliveryError::Retry(format!("attachment file: {e}")))?;
                mailer.send(&m, &files).await
            }
            crate::escalation::OUTBOX_KIND => {
                crate::escalation::deliver(
                    &self.db,
                    &self.keys,
                    &self.egress,
                    &self.public_url,
                    TenantId::from_db(item.tenant_id),
                    &item.payload,
                )
                .await
            }
            crate::notify::sms::OUTBOX_KIND => {
                crate::notify::sms::deliver(
                    &self.db,
                    &self.keys,
                    &self.egress,
                    &self.data_dir,
                    &self.public_url,
                    TenantId::from_db(item.tenant_id),
                    &item.payload,
                )
                .await
            }
            crate::notify::citizen::OUTBOX_KIND => {
                crate::notify::citizen::deliver(
                    &self.db,
                    &self.citizen,
                    TenantId::from_db(item.tenant_id),
                    &item.payload,
                )
                .await
            }
            crate::escalation::referral::MAIL_KIND | crate::escalation::referral::DEADLINE_KIND => {
                let (kind, payload) = (item.kind.clone(), item.payload.clone());
                let links = crate::escalation::referral::Links {
                    signer: self.citizen.signer.clone(),
                    public_url: self.public_url.clone(),
                    from: self.citizen.from.clone(),
                };
                let tenant = TenantId::from_db(item.tenant_id);
                self.db
                    .write(move |c| {
                        if kind == crate::escalation::referral::MAIL_KIND {
                            crate::escalation::referral::mail_department(
                                c, tenant, &payload, &links,
                            )
                        } else {
                            crate::escalation::referral::deadline(c, tenant, &payload, &links.from)
                        }
                    })
                    .await
                    .map_err(|e| match e {
                        crate::error::Error::Internal(m) => DeliveryError::Retry(m),
                        other => DeliveryError::Permanent(other.to_string()),
                    })
            }
            crate::citizen::LINK_REQUEST_KIND => {
                let (payload, cfg) = (item.payload.clone(), self.link_mails.clone());
                let tenant = TenantId::from_db(item.tenant_id);
                self.db
                    .write(move |c| crate::citizen::answer_link_request(c, tenant, &payload, &cfg))
                    .await
                    .map_err(|e| match e {
                        crate::error::Error::Internal(m) => DeliveryError::Retry(m),
                        other => DeliveryError::Permanent(other.to_string()),
                    })
            }
            other => Err(DeliveryError::Permanent(format!(
                "unknown outbox kind {other}"
            ))),
        }
    }

    /// Run until the process stops: poll often while there is work, every second otherwise.
    pub async fn run(self) {
        loop {
            match self.run_once().await {
                Ok(n) if n as i64 >= BATCH => continue,
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "outbox worker"),
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

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
pub async fn dead_letters(
    db: &Db,
    actor: &crate::accounts::Actor,
) -> crate::error::Result<Vec<DeadLetter>> {
    if !actor.is_admin() {
        return Err(crate::error::Error::Forbidden(
            "only admins see failed deliveries",
        ));
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
/// history says who asked; an escalation is back to "sending".
pub async fn retry(db: &Db, actor: &crate::accounts::Actor, id: i64) -> crate::error::Result<()> {
    if !actor.is_admin() {
        return Err(crate::error::Error::Forbidden(
            "only admins retry deliveries",
        ));
    }
    let (t, uid) = (actor.tenant, actor.user);
    db.write(move |c| -> crate::error::Result<()> {
        let now = store::now();
        let item = store::outbox::revive(c, t, id, now)?
            .ok_or(crate::error::Error::NotFound("delivery"))?;
        if item.kind == crate::escalation::OUTBOX_KIND {
            crate::escalation::on_retry(c, t, &item.payload, now)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_is_capped_and_stops() {
        let p = RetryPolicy::default();
        let now = store::now();
        let wait = |n| (backoff(p, n, now).unwrap() - now).num_milliseconds();
        assert!((24_000..=36_000).contains(&wait(1)), "{}", wait(1));
        assert!((48_000..=72_000).contains(&wait(2)), "{}", wait(2));
        assert!((96_000..=144_000).contains(&wait(3)), "{}", wait(3));
        assert!(wait(11) <= 3_600_000 * 12 / 10);
        assert!(backoff(p, p.max_attempts, now).is_none());
        // Jitter: forty waits after the same failure are not all the same.
        let mut seen: Vec<i64> = (0..40).map(|_| wait(4)).collect();
        seen.dedup();
        assert!(seen.len() > 1);
    }
}
