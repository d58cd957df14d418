//! Value types shared by every capability. Each can only hold a valid value: build them with
//! `parse` (input from people and the network) and pass them on without checking again.

mod article;
mod email;
mod ids;
pub mod net;
pub mod period;
mod phone;
mod reason;
pub mod tag;
pub mod text;
mod ticket_number;
mod vocab;

pub use article::ArticleContent;
pub use email::EmailAddress;
pub use ids::{QueueId, TenantId, TicketId, UserId};
pub use phone::PhoneNumber;
pub use reason::{FormatKind, Param, Reason};
pub use ticket_number::{TicketNumber, validate_prefix as validate_ticket_prefix};
pub use vocab::{
    ArticleStatus, Audience, Automatic, Channel, IntakeChannel, Language, MembershipRole,
    MessageKind, Priority, Role, SlaClock, Status, WaitingOn,
};

/// Why a value was refused. `field` names what was wrong (its label is the locale key
/// `field.<field>`); `reason` is typed; the web layer turns both into Swedish or English text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {field}: {reason}")]
pub struct InvalidValue {
    pub field: &'static str,
    pub reason: Reason,
}

impl InvalidValue {
    pub fn new(field: &'static str, reason: Reason) -> Self {
        InvalidValue { field, reason }
    }
}

/// Which queues an actor may see. Admins see all queues of their tenant; everyone else only the
/// queues they are a member of. Ticket queries take this, so the filter cannot be forgotten.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueAccess {
    All,
    Only(Vec<QueueId>),
}

impl QueueAccess {
    pub fn allows(&self, q: QueueId) -> bool {
        match self {
            QueueAccess::All => true,
            QueueAccess::Only(qs) => qs.contains(&q),
        }
    }
}
