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

pub const MAX_ATTEMPTS: i32 = 12;
const LEASE_SECS: i64 = 120;
const BATCH: i64 = 32;

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("temporary failure: {0}")]
    Retry(String),
    #[error("permanent failure: {0}")]
    Permanent(String),
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

/// When to try again after `attempts` failed attempts: 30 s, 1 min, 2 min … capped at 1 h, ±20 %.
pub fn backoff(attempts: i32, now: NaiveDateTime) -> Option<NaiveDateTime> {
    if attempts >= MAX_ATTEMPTS {
        return None;
    }
    let base = 30i64
        .saturating_mul(1i64 << attempts.clamp(0, 20) as u32 >> 1)
        .min(3600);
    let jitter = (base as f64 * (rand::random::<f64>() * 0.4 - 0.2)) as i64;
    Some(now + chrono::Duration::seconds((base + jitter).max(1)))
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
    blobs: BlobStore,
}

impl Worker {
    pub fn new(db: Db, mailer: Mailer, keys: Arc<Keys>, blobs: BlobStore, node: String) -> Worker {
        Worker {
            db,
            mailer: Arc::new(mailer),
            keys,
            profiles: Arc::default(),
            owner: node,
            blobs,
        }
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
        if let Some(found) = self.profiles.lock().expect("not poisoned").get(&json) {
            return Ok(found.clone());
        }
        let profile: SmtpProfile = serde_json::from_str(&json).map_err(|e| {
            DeliveryError::Permanent(format!("stored SMTP settings unreadable: {e}"))
        })?;
        let mailer = Arc::new(
            Mailer::from_profile(&profile, &self.keys)
                .map_err(|e| DeliveryError::Permanent(e.to_string()))?,
        );
        self.profiles
            .lock()
            .expect("not poisoned")
            .insert(json, mailer.clone());
        Ok(mailer)
    }

    /// Claim and deliver one batch. Returns how many items were handled.
    pub async fn run_once(&self) -> anyhow::Result<usize> {
        let owner = self.owner.clone();
        let items: Vec<Item> = self
            .db
            .write(move |c| -> Result<_, store::StoreError> {
                let now = store::now();
                store::outbox::claim(
                    c,
                    &[mail::OUTBOX_KIND],
                    &owner,
                    now,
                    now + chrono::Duration::seconds(LEASE_SECS),
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
            self.db
                .write(move |c| -> Result<(), store::StoreError> {
                    let now = store::now();
                    match outcome {
                        Ok(()) => {
                            store::outbox::complete(c, id, &owner, now)?;
                        }
                        Err(DeliveryError::Retry(e)) => {
                            let retry = backoff(attempts, now);
                            tracing::warn!(item = id, attempts, error = %e, "delivery failed");
                            store::outbox::fail(c, id, &owner, &e, retry, now)?;
                            if retry.is_none() {
                                dead_letter_event(c, tenant, ticket, &e, now)?;
                            }
                        }
                        Err(DeliveryError::Permanent(e)) => {
                            tracing::error!(item = id, error = %e, "delivery failed permanently");
                            store::outbox::fail(c, id, &owner, &e, None, now)?;
                            dead_letter_event(c, tenant, ticket, &e, now)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_stops() {
        let now = store::now();
        let first = backoff(1, now).unwrap();
        assert!((first - now).num_seconds() >= 24 && (first - now).num_seconds() <= 36);
        let late = backoff(10, now).unwrap();
        assert!((late - now).num_seconds() <= 3600 + 720);
        assert!(backoff(MAX_ATTEMPTS, now).is_none());
    }
}
