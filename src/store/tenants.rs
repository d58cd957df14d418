//! Tenants (municipalities). The one table that is not itself tenant-scoped.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::tenants;
use super::{Conn, StoreResult};
use crate::domain::TenantId;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = tenants)]
struct Row {
    id: i64,
    slug: String,
    name: String,
    ticket_prefix: String,
    created_at: NaiveDateTime,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Tenant {
    pub id: TenantId,
    pub slug: String,
    pub name: String,
    pub ticket_prefix: String,
    pub created_at: NaiveDateTime,
}

impl From<Row> for Tenant {
    fn from(r: Row) -> Self {
        Tenant {
            id: TenantId::from_db(r.id),
            slug: r.slug,
            name: r.name,
            ticket_prefix: r.ticket_prefix,
            created_at: r.created_at,
        }
    }
}

pub fn create(conn: &mut Conn, slug: &str, name: &str, prefix: &str) -> StoreResult<Tenant> {
    let row: Row = diesel::insert_into(tenants::table)
        .values((
            tenants::slug.eq(slug),
            tenants::name.eq(name),
            tenants::ticket_prefix.eq(prefix),
            tenants::created_at.eq(super::now()),
        ))
        .returning(<Row as Selectable<diesel::pg::Pg>>::construct_selection())
        .get_result(conn)?;
    Ok(row.into())
}

pub fn list(conn: &mut Conn) -> StoreResult<Vec<Tenant>> {
    Ok(tenants::table
        .order(tenants::slug)
        .select(Row::as_select())
        .load(conn)?
        .into_iter()
        .map(Tenant::from)
        .collect())
}

pub fn by_slug(conn: &mut Conn, slug: &str) -> StoreResult<Option<Tenant>> {
    Ok(tenants::table
        .filter(tenants::slug.eq(slug))
        .select(Row::as_select())
        .first(conn)
        .optional()?
        .map(Tenant::from))
}

pub fn get(conn: &mut Conn, id: TenantId) -> StoreResult<Tenant> {
    Ok(tenants::table
        .find(id.get())
        .select(Row::as_select())
        .first::<Row>(conn)?
        .into())
}
