//! Routing rules of a tenant, in the order they are checked.

use chrono::NaiveDateTime;
use diesel::dsl;
use diesel::prelude::*;

use super::schema::routing_rules;
use super::{Conn, StoreResult};
use crate::domain::TenantId;

type Scoped = dsl::Filter<routing_rules::table, dsl::Eq<routing_rules::tenant_id, i64>>;

/// Every query on rules starts here.
fn scoped(t: TenantId) -> Scoped {
    routing_rules::table.filter(routing_rules::tenant_id.eq(t.get()))
}

/// A rule as stored (the domain parses it into conditions and actions).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = routing_rules)]
pub struct RuleRow {
    pub id: i64,
    pub position: i32,
    pub name: String,
    pub enabled: bool,
    pub match_queue_id: Option<i64>,
    pub match_senders: String,
    pub match_words: String,
    pub match_in: String,
    pub set_priority: Option<String>,
    pub set_queue_id: Option<i64>,
    pub add_tag: Option<String>,
    pub escalation_target_id: Option<i64>,
    pub stop: bool,
    pub hits: i64,
    pub last_hit_at: Option<NaiveDateTime>,
    pub updated_at: NaiveDateTime,
}

/// What a rule is made of (validated by the domain).
#[derive(Debug, Clone, AsChangeset, Insertable)]
#[diesel(table_name = routing_rules, treat_none_as_null = true)]
pub struct RuleChange<'a> {
    pub name: &'a str,
    pub enabled: bool,
    pub match_queue_id: Option<i64>,
    pub match_senders: &'a str,
    pub match_words: &'a str,
    pub match_in: &'a str,
    pub set_priority: Option<&'a str>,
    pub set_queue_id: Option<i64>,
    pub add_tag: Option<&'a str>,
    pub escalation_target_id: Option<i64>,
    pub stop: bool,
}

/// The tenant's rules in the order they are checked.
pub fn list(conn: &mut Conn, t: TenantId) -> StoreResult<Vec<RuleRow>> {
    Ok(scoped(t)
        .order((routing_rules::position, routing_rules::id))
        .select(RuleRow::as_select())
        .load(conn)?)
}

/// The tenant's enabled rules in order (what a new ticket is checked against).
pub fn enabled(conn: &mut Conn, t: TenantId) -> StoreResult<Vec<RuleRow>> {
    Ok(scoped(t)
        .filter(routing_rules::enabled.eq(true))
        .order((routing_rules::position, routing_rules::id))
        .select(RuleRow::as_select())
        .load(conn)?)
}

pub fn get(conn: &mut Conn, t: TenantId, id: i64) -> StoreResult<Option<RuleRow>> {
    Ok(scoped(t)
        .filter(routing_rules::id.eq(id))
        .select(RuleRow::as_select())
        .first(conn)
        .optional()?)
}

/// Whether another rule of the tenant has this name.
pub fn name_taken(
    conn: &mut Conn,
    t: TenantId,
    name: &str,
    except: Option<i64>,
) -> StoreResult<bool> {
    let n: i64 = scoped(t)
        .filter(routing_rules::name.eq(name))
        .filter(routing_rules::id.ne(except.unwrap_or(0)))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// Add a rule after the tenant's last one. Returns its id.
pub fn insert(
    conn: &mut Conn,
    t: TenantId,
    r: &RuleChange<'_>,
    now: NaiveDateTime,
) -> StoreResult<i64> {
    let last: Option<i32> = scoped(t)
        .select(dsl::max(routing_rules::position))
        .first(conn)?;
    Ok(diesel::insert_into(routing_rules::table)
        .values((
            routing_rules::tenant_id.eq(t.get()),
            routing_rules::position.eq(last.unwrap_or(0) + 1),
            r,
            routing_rules::created_at.eq(now),
            routing_rules::updated_at.eq(now),
        ))
        .returning(routing_rules::id)
        .get_result(conn)?)
}

/// Change a rule; false when the tenant has no such rule.
pub fn update(
    conn: &mut Conn,
    t: TenantId,
    id: i64,
    r: &RuleChange<'_>,
    now: NaiveDateTime,
) -> StoreResult<bool> {
    let n = diesel::update(scoped(t).filter(routing_rules::id.eq(id)))
        .set((r, routing_rules::updated_at.eq(now)))
        .execute(conn)?;
    Ok(n > 0)
}

pub fn delete(conn: &mut Conn, t: TenantId, id: i64) -> StoreResult<bool> {
    Ok(diesel::delete(scoped(t).filter(routing_rules::id.eq(id))).execute(conn)? > 0)
}

/// Give the tenant's rules the positions 1, 2, … in the order of `ids`.
pub fn reorder(conn: &mut Conn, t: TenantId, ids: &[i64], now: NaiveDateTime) -> StoreResult<()> {
    for (i, id) in ids.iter().enumerate() {
        diesel::update(scoped(t).filter(routing_rules::id.eq(id)))
            .set((
                routing_rules::position.eq(i as i32 + 1),
                routing_rules::updated_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Count a match of the rule.
pub fn hit(conn: &mut Conn, t: TenantId, id: i64, now: NaiveDateTime) -> StoreResult<()> {
    diesel::update(scoped(t).filter(routing_rules::id.eq(id)))
        .set((
            routing_rules::hits.eq(routing_rules::hits + 1),
            routing_rules::last_hit_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}
