//! A node's own leases, given back when it starts (decision D43). A node that was
//! killed (or whose process ended without releasing) left leases in its name: on mailboxes
//! (`mailbox_state`), outbox items being delivered (`outbox`) and the SLA follower
//! (`sla_cursor`). Its next start frees exactly those — the ones in its own node id — so it
//! fetches and delivers at once instead of waiting them out; leases of other nodes stay.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{mailbox_state, outbox, sla_cursor};
use super::{Conn, StoreResult};

/// How many leases of each kind were given back.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reclaimed {
    pub mailboxes: usize,
    pub outbox: usize,
    pub sla: usize,
}

/// Free every lease `node` holds (the SLA follower leases in the name `sla-<node>`). Run in a
/// write transaction, before this node's workers start.
pub fn reclaim_own(conn: &mut Conn, node: &str) -> StoreResult<Reclaimed> {
    let none_s = None::<String>;
    let none_t = None::<NaiveDateTime>;
    let mailboxes =
        diesel::update(mailbox_state::table.filter(mailbox_state::lease_owner.eq(node)))
            .set((
                mailbox_state::lease_owner.eq(&none_s),
                mailbox_state::lease_until.eq(none_t),
            ))
            .execute(conn)?;
    let outbox = diesel::update(
        outbox::table
            .filter(outbox::lease_owner.eq(node))
            .filter(outbox::done_at.is_null()),
    )
    .set((
        outbox::lease_owner.eq(&none_s),
        outbox::lease_until.eq(none_t),
    ))
    .execute(conn)?;
    let sla = diesel::update(sla_cursor::table.filter(sla_cursor::lease_owner.eq(sla_owner(node))))
        .set((
            sla_cursor::lease_owner.eq(&none_s),
            sla_cursor::lease_until.eq(none_t),
        ))
        .execute(conn)?;
    Ok(Reclaimed {
        mailboxes,
        outbox,
        sla,
    })
}

/// The name the SLA follower of `node` holds its lease in.
pub fn sla_owner(node: &str) -> String {
    format!("sla-{node}")
}
