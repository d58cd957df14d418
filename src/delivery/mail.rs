//! Outgoing mail. It is never sent from a request: use cases put an `OutgoingMail` in the
//! outbox (same transaction as the change), and the outbox worker (`MailJob`) hands it to the
//! configured transport — SMTP, or `.eml` files in a local folder for demos and development.
//! `about_ticket` gives mail about a ticket its From (the ticket's mailbox) and Message-ID.

use std::path::PathBuf;

use lettre::message::header::ContentType;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, Message, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use crate::config::{self, MailTransport, SmtpTls};
use crate::domain::{FormatKind, InvalidValue, Reason};
use crate::outbox::DeliveryError;
use crate::secrets::Keys;

pub use super::mail_job::MailJob;

/// The header Ärendo puts on every mail it sends, so that its own mail is never imported.
pub const ORIGIN_HEADER: &str = "X-Arendo-Origin";

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
    /// The function mailbox it is sent for; its SMTP settings (else the tenant's) are used.
    #[serde(default)]
    pub mailbox: Option<i64>,
    /// An automatic mail (acknowledgement): marked `Auto-Submitted: auto-replied` (RFC 3834).
    #[serde(default)]
    pub auto_submitted: bool,
    /// Files sent along, by their blob in the blob store.
    #[serde(default)]
    pub attachments: Vec<MailAttachment>,
}

/// A file attached to an outgoing mail; the bytes stay in the blob store until delivery.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MailAttachment {
    pub filename: String,
    pub content_type: String,
    pub sha256: String,
}

/// A new Message-ID (without angle brackets) in the sender's domain, carrying the ticket number.
pub fn new_message_id(ticket: &crate::domain::TicketNumber, from: &str) -> String {
    let domain = from
        .rsplit_once('@')
        .map(|(_, d)| d)
        .unwrap_or("arendo.invalid");
    format!("{}.{}@{}", ticket, crate::secrets::new_id(), domain)
}

/// The sender and Message-ID of a mail Ärendo sends about a ticket outside its conversation
/// (status notifications, status-link and referral mails, SLA notices): From the ticket's
/// function mailbox (else its queue's first mailbox, else `default_from`), so that the citizen
/// can answer; the Message-ID is recorded so that the answer lands on the ticket and the mail,
/// should it come back to one of our mailboxes, is recognised as our own.
pub fn about_ticket(
    c: &mut crate::store::Conn,
    t: crate::domain::TenantId,
    tk: &crate::store::tickets::Ticket,
    default_from: &str,
    kind: &str,
    now: chrono::NaiveDateTime,
) -> crate::error::Result<(String, String)> {
    let from = crate::store::mail::ticket_sender_address(c, t, tk.mailbox_id, tk.queue_id.get())?
        .unwrap_or_else(|| default_from.to_string());
    let id = new_message_id(&tk.number, &from);
    crate::store::mail::record_sent(c, t, tk.id, &id, kind, now)?;
    Ok((from, id))
}

fn bracket(id: &str) -> String {
    format!(
        "<{}>",
        id.trim().trim_start_matches('<').trim_end_matches('>')
    )
}

impl OutgoingMail {
    /// The MIME message; `files` are the attachments' bytes, in the order of `attachments`.
    pub fn build(&self, files: &[Vec<u8>]) -> Result<Message, DeliveryError> {
        let bad = |what: &str, e: &dyn std::fmt::Display| {
            DeliveryError::Permanent(format!("{what}: {e}"))
        };
        let from: Mailbox = self.from.parse().map_err(|e| bad("from address", &e))?;
        let mut b = Message::builder()
            .from(from)
            .subject(self.subject.clone())
            .message_id(self.message_id.as_deref().map(bracket));
        for to in &self.to {
            b = b.to(to.parse().map_err(|e| bad("recipient", &e))?);
        }
        if let Some(irt) = &self.in_reply_to {
            b = b.in_reply_to(bracket(irt));
        }
        if !self.references.is_empty() {
            b = b.references(
                self.references
                    .iter()
                    .map(|r| bracket(r))
                    .collect::<Vec<_>>()
                    .join(" "),
            );
        }
        let html = format!(
            "<!doctype html><html><body><div style=\"font-family:sans-serif;white-space:pre-wrap\">{}</div></body></html>",
            handlebars::html_escape(&self.text)
        );
        let body = MultiPart::alternative_plain_html(self.text.clone(), html);
        let mut msg = if self.attachments.is_empty() {
            b.multipart(body)
        } else {
            if files.len() != self.attachments.len() {
                return Err(DeliveryError::Retry("attachment bytes not loaded".into()));
            }
            let mut mixed = MultiPart::mixed().multipart(body);
            for (a, bytes) in self.attachments.iter().zip(files) {
                let ct = ContentType::parse(&a.content_type).unwrap_or_else(|_| {
                    ContentType::parse("application/octet-stream").expect("valid")
                });
                mixed =
                    mixed.singlepart(Attachment::new(a.filename.clone()).body(bytes.clone(), ct));
            }
            b.multipart(mixed)
        }
        .map_err(|e| bad("message", &e))?;
        if self.auto_submitted {
            msg.headers_mut().insert_raw(HeaderValue::new(
                HeaderName::new_from_ascii_str("Auto-Submitted"),
                "auto-replied".into(),
            ));
        }
        // Our own mark: mail carrying it is never imported as a citizen's mail (a loop).
        msg.headers_mut().insert_raw(HeaderValue::new(
            HeaderName::new_from_ascii_str(ORIGIN_HEADER),
            "arendo".into(),
        ));
        // Ask out-of-office responders not to answer us.
        msg.headers_mut().insert_raw(HeaderValue::new(
            HeaderName::new_from_ascii_str("X-Auto-Response-Suppress"),
            "All".into(),
        ));
        Ok(msg)
    }
}

/// SMTP settings of a tenant or a function mailbox, stored as JSON (password sealed).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SmtpProfile {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub user: Option<String>,
    /// Sealed with the installation key (`Keys::seal`).
    pub password_enc: Option<String>,
}

/// Where an SMTP transport connects (`server`, an address or a name, and `port`) and the name
/// its TLS certificate must carry.
#[derive(Clone, Copy)]
struct Remote<'a> {
    server: &'a str,
    port: u16,
    name: &'a str,
}

/// The address to connect to for a tenant's or mailbox's SMTP server, as the egress policy
/// allows it (resolved once; the transport connects to exactly this address).
pub async fn smtp_address(
    egress: &crate::egress::Policy,
    p: &SmtpProfile,
) -> Result<std::net::SocketAddr, DeliveryError> {
    egress.resolve(&p.host, p.port).await.map_err(|e| match e {
        crate::egress::EgressError::Dns { .. } => DeliveryError::Retry(e.to_string()),
        other => DeliveryError::Permanent(other.to_string()),
    })
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
                crate::store::private::create_dir(&dir)?;
                Mailer::Folder(dir.clone(), AsyncFileTransport::new(dir))
            }
            MailTransport::Smtp => {
                let m = &s.mail;
                let password = m
                    .smtp_password
                    .as_ref()
                    .map(|p| p.expose_secret().to_string());
                // The installation's own relay: set by the operator, not subject to the egress
                // policy.
                let remote = Remote {
                    server: &m.smtp_host,
                    port: m.smtp_port,
                    name: &m.smtp_host,
                };
                Self::smtp(remote, m.smtp_tls, m.smtp_user.as_deref(), password)?
            }
        })
    }

    /// An SMTP transport from a tenant's or mailbox's profile that connects to `addr` (the
    /// profile's host as the egress policy checked it, [`smtp_address`]); TLS still verifies the
    /// certificate against the host name.
    pub fn from_profile(
        p: &SmtpProfile,
        addr: std::net::SocketAddr,
        keys: &crate::secrets::Keys,
    ) -> anyhow::Result<Mailer> {
        let password = match &p.password_enc {
            Some(sealed) => Some(keys.open(sealed)?.expose_secret().to_string()),
            None => None,
        };
        let server = addr.ip().to_string();
        let remote = Remote {
            server: &server,
            port: addr.port(),
            name: &p.host,
        };
        Self::smtp(remote, p.tls, p.user.as_deref(), password)
    }

    fn smtp(
        remote: Remote<'_>,
        tls: SmtpTls,
        user: Option<&str>,
        password: Option<String>,
    ) -> anyhow::Result<Mailer> {
        let params = || TlsParameters::new(remote.name.to_string());
        let b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(remote.server);
        let mut b = match tls {
            SmtpTls::None => b,
            SmtpTls::Starttls => b.tls(Tls::Required(params()?)),
            SmtpTls::Implicit => b.tls(Tls::Wrapper(params()?)),
        }
        .port(remote.port)
        .timeout(Some(std::time::Duration::from_secs(30)));
        if let (Some(u), Some(p)) = (user, password) {
            b = b.credentials(Credentials::new(u.to_string(), p));
        }
        Ok(Mailer::Smtp(b.build()))
    }

    pub async fn send(&self, mail: &OutgoingMail, files: &[Vec<u8>]) -> Result<(), DeliveryError> {
        let msg = mail.build(files)?;
        match self {
            Mailer::Folder(dir, t) => {
                let id = t
                    .send(msg)
                    .await
                    .map_err(|e| DeliveryError::Retry(e.to_string()))?;
                // Mail holds status links: 0600 (the umask already made it so; this holds
                // whatever the umask).
                crate::store::private::set_mode(
                    &dir.join(format!("{id}.eml")),
                    crate::store::private::FILE_MODE,
                )
                .map_err(|e| DeliveryError::Retry(e.to_string()))
            }
            Mailer::Smtp(t) => match t.send(msg).await {
                Ok(_) => Ok(()),
                Err(e) if e.is_permanent() => Err(DeliveryError::Permanent(e.to_string())),
                Err(e) => Err(DeliveryError::Retry(e.to_string())),
            },
        }
    }
}

/// SMTP settings as an admin or operator gives them (a mailbox's or a tenant's own server).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSpec {
    pub host: String,
    pub port: u16,
    /// none (only on this host), starttls or implicit.
    pub tls: String,
    pub user: Option<String>,
    pub password: Option<String>,
}

/// Whether `host` is this machine (plain-text SMTP/IMAP is allowed only there).
pub fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
}

/// A host name or address as typed into a setting: trimmed, no spaces or slashes.
pub fn host(field: &'static str, h: &str) -> Result<String, InvalidValue> {
    let h = h.trim();
    if h.is_empty() || h.len() > 253 || h.contains(|c: char| c.is_whitespace() || c == '/') {
        return Err(InvalidValue::new(
            field,
            Reason::format(h, FormatKind::Host),
        ));
    }
    Ok(h.to_string())
}

impl SmtpSpec {
    /// Validate and seal into the stored profile.
    pub fn into_profile(self, keys: &Keys) -> Result<SmtpProfile, InvalidValue> {
        let host = host("smtp.host", &self.host)?;
        let tls = match self.tls.as_str() {
            "none" => SmtpTls::None,
            "starttls" => SmtpTls::Starttls,
            "implicit" => SmtpTls::Implicit,
            _ => {
                return Err(InvalidValue::new(
                    "smtp.tls",
                    Reason::one_of(&["none", "starttls", "implicit"]),
                ));
            }
        };
        if tls == SmtpTls::None && !is_loopback(&host) {
            return Err(InvalidValue::new("smtp.tls", Reason::PlainOnlyLocal));
        }
        if self.port == 0 {
            return Err(InvalidValue::new(
                "smtp.port",
                Reason::Range { min: 1, max: 65535 },
            ));
        }
        Ok(SmtpProfile {
            host,
            port: self.port,
            tls,
            user: self.user.filter(|u| !u.trim().is_empty()),
            password_enc: self
                .password
                .filter(|p| !p.is_empty())
                .map(|p| keys.seal(&p)),
        })
    }
}
