//! Delivery adapters, shared by every capability: outgoing mail over SMTP (`mail`, its outbox
//! job `mail_job`), text messages to SMS gateways (`sms`) and templated HTTP bodies for records
//! systems and SMS gateways (`http`).
//! Every address a tenant sets passes the egress policy (`egress`) on the way out.

pub mod http;
pub mod mail;
mod mail_job;
pub mod sms;
