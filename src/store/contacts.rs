//! Citizens and companies who write to the municipality.

use chrono::NaiveDateTime;
use diesel::dsl;
use diesel::prelude::*;

use super::schema::contacts;
use super::{Conn, StoreResult};
use crate::domain::{EmailAddress, Language, PhoneNumber, TenantId};

type Scoped = dsl::Filter<contacts::table, dsl::Eq<contacts::tenant_id, i64>>;

/// Every query on this table starts here.
fn scoped(t: TenantId) -> Scoped {
    contacts::table.filter(contacts::tenant_id.eq(t.get()))
}

#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = contacts)]
pub struct Contact {
    pub id: i64,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub preferred_channel: String,
    pub created_at: NaiveDateTime,
    /// `sv` or `en`: the language notifications and acknowledgements are written in.
    pub language: String,
}

pub fn get(conn: &mut Conn, t: TenantId, id: i64) -> StoreResult<Option<Contact>> {
    Ok(scoped(t)
        .filter(contacts::id.eq(id))
        .select(Contact::as_select())
        .first(conn)
        .optional()?)
}

/// The contact with this e-mail (or, failing that, this phone) in `t`, created if there is none.
/// A known contact gets a missing name or phone filled in, never overwritten; `language` is only
/// for a new contact (a known one keeps theirs).
pub fn find_or_create(
    conn: &mut Conn,
    t: TenantId,
    name: Option<&str>,
    email: Option<&EmailAddress>,
    phone: Option<&PhoneNumber>,
    preferred_channel: &str,
    language: Language,
) -> StoreResult<Contact> {
    let existing = match (email, phone) {
        (Some(e), _) => scoped(t)
            .filter(contacts::email.eq(e.as_str()))
            .order(contacts::id)
            .select(Contact::as_select())
            .first(conn)
            .optional()?,
        (None, Some(p)) => scoped(t)
            .filter(contacts::phone.eq(p.as_str()))
            .order(contacts::id)
            .select(Contact::as_select())
            .first(conn)
            .optional()?,
        (None, None) => None,
    };
    let now = super::now();
    if let Some(c) = existing {
        if (c.name.is_none() && name.is_some()) || (c.phone.is_none() && phone.is_some()) {
            diesel::update(scoped(t).filter(contacts::id.eq(c.id)))
                .set((
                    contacts::name.eq(c.name.as_deref().or(name)),
                    contacts::phone.eq(c.phone.as_deref().or(phone.map(|p| p.as_str()))),
                    contacts::updated_at.eq(now),
                ))
                .execute(conn)?;
            return Ok(get(conn, t, c.id)?.unwrap_or(c));
        }
        return Ok(c);
    }
    Ok(diesel::insert_into(contacts::table)
        .values((
            contacts::tenant_id.eq(t.get()),
            contacts::name.eq(name),
            contacts::email.eq(email.map(|e| e.as_str())),
            contacts::phone.eq(phone.map(|p| p.as_str())),
            contacts::preferred_channel.eq(preferred_channel),
            contacts::language.eq(language.as_str()),
            contacts::created_at.eq(now),
            contacts::updated_at.eq(now),
        ))
        .returning(<Contact as Selectable<diesel::pg::Pg>>::construct_selection())
        .get_result(conn)?)
}

/// What an agent may change about a contact (the e-mail address is the contact's identity).
pub struct ContactChange<'a> {
    pub name: Option<&'a str>,
    pub phone: Option<&'a str>,
    pub preferred_channel: &'a str,
    pub language: Language,
}

/// Change a contact; false when the tenant has no such contact.
pub fn update(conn: &mut Conn, t: TenantId, id: i64, c: &ContactChange<'_>) -> StoreResult<bool> {
    let n = diesel::update(scoped(t).filter(contacts::id.eq(id)))
        .set((
            contacts::name.eq(c.name),
            contacts::phone.eq(c.phone),
            contacts::preferred_channel.eq(c.preferred_channel),
            contacts::language.eq(c.language.as_str()),
            contacts::updated_at.eq(super::now()),
        ))
        .execute(conn)?;
    Ok(n > 0)
}

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Nullable<diesel::sql_types::Text>) -> diesel::sql_types::Nullable<diesel::sql_types::Text>);

/// Contacts of `t` whose name, e-mail or phone contains `q` (case-insensitive), at most `limit`,
/// by name. For finding the caller while an agent types; `q` is matched literally.
pub fn search(conn: &mut Conn, t: TenantId, q: &str, limit: i64) -> StoreResult<Vec<Contact>> {
    let needle: String = q.trim().to_lowercase();
    if needle.is_empty() {
        return Ok(vec![]);
    }
    let escaped = needle
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    let pattern = format!("%{escaped}%");
    // Phone numbers are stored in E.164 (+46701234567); a typed 070… also finds them.
    let digits: String = needle.chars().filter(|c| c.is_ascii_digit()).collect();
    let phone_pattern = match digits.strip_prefix('0') {
        Some(rest) if digits.len() >= 3 => format!("%46{rest}%"),
        _ if digits.len() >= 3 => format!("%{digits}%"),
        _ => pattern.clone(),
    };
    Ok(scoped(t)
        .filter(
            lower(contacts::name.nullable())
                .like(pattern.clone())
                .escape('\\')
                .or(lower(contacts::email.nullable())
                    .like(pattern.clone())
                    .escape('\\'))
                .or(contacts::phone.like(pattern).escape('\\'))
                .or(contacts::phone.like(phone_pattern).escape('\\')),
        )
        .order((contacts::name, contacts::id))
        .limit(limit)
        .select(Contact::as_select())
        .load(conn)?)
}
