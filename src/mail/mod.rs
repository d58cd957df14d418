//! The mail channel. Outgoing mail is never sent from a request: use cases put an `OutgoingMail`
//! in the outbox (same transaction as the change), and the outbox worker hands it to the
//! configured transport — SMTP, or `.eml` files in a local folder for demos and development.

use std::path::PathBuf;

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use crate::config::{self, MailTransport, SmtpTls};
use crate::outbox::DeliveryError;

pub mod parse;

pub const OUTBOX_KIND: &str = "mail";

/// An e-mail waiting in the outbox.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OutgoingMail {
    pub from: String,
    pub to: Vec<String>,
    pub subject: String,
    pub text: String,
    pub message_id: Option<String>,
    pub in_reply_to: Option<String>,
    #[serde(default)]
    pub references: Vec<String>,
    /// The stored outbound message this mail carries, if any.
    pub message_row: Option<i64>,
}

impl OutgoingMail {
    pub fn build(&self) -> Result<Message, DeliveryError> {
        let bad = |what: &str, e: &dyn std::fmt::Display| {
            DeliveryError::Permanent(format!("{what}: {e}"))
        };
        let from: Mailbox = self.from.parse().map_err(|e| bad("from address", &e))?;
        let mut b = Message::builder()
            .from(from)
            .subject(self.subject.clone())
            .message_id(self.message_id.clone())
            .header(ContentType::TEXT_PLAIN);
        for to in &self.to {
            b = b.to(to.parse().map_err(|e| bad("recipient", &e))?);
        }
        if let Some(irt) = &self.in_reply_to {
            b = b.in_reply_to(irt.clone());
        }
        if !self.references.is_empty() {
            b = b.references(self.references.join(" "));
        }
        let mut msg = b.body(self.text.clone()).map_err(|e| bad("message", &e))?;
        // Ask auto-responders (out-of-office) not to answer our mail.
        msg.headers_mut().insert_raw(HeaderValue::new(
            HeaderName::new_from_ascii_str("Auto-Submitted"),
            "auto-replied".into(),
        ));
        Ok(msg)
    }
}

/// Where outgoing mail goes.
#[derive(Clone)]
pub enum Mailer {
    Folder(PathBuf, AsyncFileTransport<Tokio1Executor>),
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mailer::Folder(p, _) => write!(f, "Mailer::Folder({})", p.display()),
            Mailer::Smtp(_) => f.write_str("Mailer::Smtp"),
        }
    }
}

impl Mailer {
    pub fn from_settings(s: &config::Settings) -> anyhow::Result<Mailer> {
        Ok(match s.mail.transport {
            MailTransport::Outbox => {
                let dir = s.outbox_dir();
                std::fs::create_dir_all(&dir)?;
                Mailer::Folder(dir.clone(), AsyncFileTransport::new(dir))
            }
            MailTransport::Smtp => {
                let m = &s.mail;
                let mut b = match m.smtp_tls {
                    SmtpTls::None => {
                        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&m.smtp_host)
                    }
                    SmtpTls::Starttls => {
                        AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&m.smtp_host)?
                    }
                    SmtpTls::Implicit => AsyncSmtpTransport::<Tokio1Executor>::relay(&m.smtp_host)?,
                }
                .port(m.smtp_port)
                .timeout(Some(std::time::Duration::from_secs(30)));
                if let (Some(u), Some(p)) = (&m.smtp_user, &m.smtp_password) {
                    b = b.credentials(Credentials::new(u.clone(), p.expose_secret().to_string()));
                }
                Mailer::Smtp(b.build())
            }
        })
    }

    pub async fn send(&self, mail: &OutgoingMail) -> Result<(), DeliveryError> {
        let msg = mail.build()?;
        match self {
            Mailer::Folder(_, t) => t
                .send(msg)
                .await
                .map(|_| ())
                .map_err(|e| DeliveryError::Retry(e.to_string())),
            Mailer::Smtp(t) => match t.send(msg).await {
                Ok(_) => Ok(()),
                Err(e) if e.is_permanent() => Err(DeliveryError::Permanent(e.to_string())),
                Err(e) => Err(DeliveryError::Retry(e.to_string())),
            },
        }
    }
}
