//! The outbox job for outgoing mail: the mailbox's SMTP settings (else the tenant's, else the
//! installation's transport) and the attachments from the blob store.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::domain::TenantId;
use crate::outbox::{Delivery, DeliveryError, Job};
use crate::secrets::Keys;
use crate::store::blobs::BlobStore;
use crate::store::{self, Db, outbox::Item};

use super::mail::{Mailer, OUTBOX_KIND, OutgoingMail, SmtpProfile, smtp_address};

/// Delivers [`OUTBOX_KIND`] items. A lane per tenant and function mailbox: the mailbox's (or
/// the tenant's) SMTP server, so a slow server holds up only its own mail.
pub struct MailJob {
    db: Db,
    /// The installation's default transport (config `[mail]`).
    mailer: Arc<Mailer>,
    keys: Arc<Keys>,
    blobs: BlobStore,
    /// What addresses a tenant's own SMTP server may have.
    egress: Arc<crate::egress::Policy>,
    /// Transports built from tenants' and mailboxes' own SMTP settings, by address and JSON.
    profiles: Mutex<HashMap<String, Arc<Mailer>>>,
}

impl MailJob {
    pub fn new(
        db: Db,
        mailer: Mailer,
        keys: Arc<Keys>,
        blobs: BlobStore,
        egress: Arc<crate::egress::Policy>,
    ) -> MailJob {
        MailJob {
            db,
            mailer: Arc::new(mailer),
            keys,
            blobs,
            egress,
            profiles: Mutex::default(),
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
        let profile: SmtpProfile = serde_json::from_str(&json).map_err(|e| {
            DeliveryError::Permanent(format!("stored SMTP settings unreadable: {e}"))
        })?;
        // A tenant's server passes the egress policy; the transport connects to the checked
        // address (so it is kept per address).
        let addr = smtp_address(&self.egress, &profile).await?;
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

    async fn send(&self, item: &Item) -> Result<(), DeliveryError> {
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
}

impl Job for MailJob {
    fn kind(&self) -> &'static str {
        OUTBOX_KIND
    }

    fn lane(&self, item: &Item) -> String {
        let mailbox = serde_json::from_str::<serde_json::Value>(&item.payload)
            .ok()
            .and_then(|v| v.get("mailbox").and_then(serde_json::Value::as_i64));
        match mailbox {
            Some(m) => format!("tenant {} mailbox {m}", item.tenant_id),
            None => format!("tenant {}", item.tenant_id),
        }
    }

    fn deliver<'a>(&'a self, item: &'a Item) -> Delivery<'a> {
        Box::pin(self.send(item))
    }
}
