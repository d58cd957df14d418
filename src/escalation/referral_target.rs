//! Referral targets: departments tickets are referred to (remiss), their mailbox and days to
//! answer. The referral itself — the mail, the handler's page, the deadline — is `referral`.

use crate::domain::{EmailAddress, InvalidValue, Reason, TenantId};
use crate::error::Result;
use crate::store::{self, Conn};

/// The outbox kind that mails a referral to its department; the payload is `{"escalation": id}`.
pub const REFERRAL_MAIL_KIND: &str = "referral";

/// The outbox kind of a referral's deadline; the payload is `{"escalation": id}`.
pub const REFERRAL_DEADLINE_KIND: &str = "referral_deadline";

/// A department to refer tickets to, as an operator describes it.
#[derive(Debug, Clone)]
pub struct ReferralTarget {
    pub name: String,
    /// Where the referral mail goes (the department's function mailbox).
    pub email: String,
    /// Days the department has to answer (0: due at once).
    pub response_days: i32,
    /// Whether the handler may answer the citizen directly.
    pub allow_citizen_reply: bool,
    /// Whether a referral here pauses the ticket's service level ("waiting for external") until
    /// the answer comes (D45; true unless the department's answer is part of the work).
    pub pauses_sla: bool,
}

/// Create or replace (by name) a referral target of the tenant.
pub fn save_target(c: &mut Conn, t: TenantId, r: &ReferralTarget) -> Result<i64> {
    let name = r.name.trim();
    if name.is_empty() || name.chars().count() > 80 {
        return Err(InvalidValue::new("name", Reason::Length { min: 1, max: 80 }).into());
    }
    let email = EmailAddress::parse(&r.email)?;
    if !(0..=90).contains(&r.response_days) {
        return Err(InvalidValue::new("response_days", Reason::Range { min: 0, max: 90 }).into());
    }
    Ok(store::escalation::save_referral_target(
        c,
        t,
        name,
        email.as_str(),
        r.response_days,
        (r.allow_citizen_reply, r.pauses_sla),
        store::now(),
    )?)
}
