//! Who may administer what, shared by every capability's admin use cases: tenant admins manage
//! everything of their tenant; a queue lead manages what belongs to the queues they lead.

use super::Actor;
use crate::domain::{MembershipRole, QueueId};
use crate::error::{Error, Result};

/// Whether the actor leads queue `q`.
pub fn leads(actor: &Actor, q: QueueId) -> bool {
    actor
        .memberships
        .iter()
        .any(|(id, r)| *id == q && *r == MembershipRole::Lead)
}

/// Whether the actor may open the admin pages at all (an admin, or the lead of some queue).
pub fn may_administer(actor: &Actor) -> bool {
    actor.is_admin()
        || actor
            .memberships
            .iter()
            .any(|(_, r)| *r == MembershipRole::Lead)
}

pub fn require_admin(actor: &Actor) -> Result<()> {
    if actor.is_admin() {
        Ok(())
    } else {
        Err(Error::Forbidden("administrators only"))
    }
}

pub fn require_admin_or_lead(actor: &Actor) -> Result<()> {
    if may_administer(actor) {
        Ok(())
    } else {
        Err(Error::Forbidden("administrators and queue leads only"))
    }
}
