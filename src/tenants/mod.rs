//! Tenants (municipalities) and their department queues: operator use cases and what an agent
//! sees of the queues.

pub mod admin;
pub mod deliveries;

use serde::Serialize;

use crate::accounts::{Actor, Scope};
use crate::domain::InvalidValue;
use crate::domain::Reason;
use crate::error::Conflict;
use crate::error::{Error, Result};
use crate::store::{self, Conn, Db};

pub use crate::domain::text::slug;

fn name(s: &str, field: &'static str) -> Result<String, InvalidValue> {
    let s = s.trim();
    if s.is_empty() || s.chars().count() > 120 {
        return Err(InvalidValue::new(
            field,
            Reason::Length { min: 1, max: 120 },
        ));
    }
    Ok(s.to_string())
}

pub fn create_tenant(
    c: &mut Conn,
    slug_text: &str,
    display: &str,
    prefix: &str,
) -> Result<store::tenants::Tenant> {
    let s = slug(slug_text, "slug")?;
    let n = name(display, "name")?;
    crate::domain::validate_ticket_prefix(prefix)?;
    if store::tenants::by_slug(c, &s)?.is_some() {
        return Err(Error::Conflict(Conflict::TenantExists { slug: s }));
    }
    Ok(store::tenants::create(c, &s, &n, prefix)?)
}

/// (slug, name) of every municipality served here. Public: the sign-in page and the public
/// knowledge base list them.
pub async fn served(db: &Db) -> Result<Vec<(String, String)>> {
    Ok(db
        .read(store::tenants::list)
        .await?
        .into_iter()
        .map(|t| (t.slug, t.name))
        .collect())
}

/// Installation-level use cases: the operator of the installation (the command line) creates and
/// lists tenants, and acts on one tenant as `Actor::operator`.
pub mod installation {
    use super::*;
    use crate::domain::TenantId;

    /// Create a tenant (the installation's operator; no tenant admin can).
    pub async fn create_tenant(
        db: &Db,
        slug: &str,
        name: &str,
        prefix: &str,
    ) -> Result<store::tenants::Tenant> {
        let (slug, name, prefix) = (slug.to_string(), name.to_string(), prefix.to_string());
        db.write(move |c| super::create_tenant(c, &slug, &name, &prefix))
            .await
    }

    /// Every tenant of the installation, by slug.
    pub async fn tenants(db: &Db) -> Result<Vec<store::tenants::Tenant>> {
        db.read(|c| -> Result<_> { Ok(store::tenants::list(c)?) })
            .await
    }

    /// The operator acting on the tenant `slug` (`NotFound` for an unknown slug).
    pub async fn operator(db: &Db, slug: &str) -> Result<Actor> {
        let slug = slug.to_string();
        let t: TenantId = db
            .read(move |c| tenant_by_slug(c, &slug).map(|t| t.id))
            .await?;
        Ok(Actor::operator(t))
    }
}

pub fn tenant_by_slug(c: &mut Conn, s: &str) -> Result<store::tenants::Tenant> {
    store::tenants::by_slug(c, s.trim())?.ok_or(Error::NotFound("tenant"))
}

pub fn create_queue(
    c: &mut Conn,
    t: crate::domain::TenantId,
    slug_text: &str,
    display: &str,
) -> Result<store::queues::Queue> {
    let s = slug(slug_text, "slug")?;
    let n = name(display, "name")?;
    if store::queues::by_slug(c, t, &s)?.is_some() {
        return Err(Error::Conflict(Conflict::QueueExists { slug: s }));
    }
    Ok(store::queues::create(c, t, &s, &n)?)
}

#[derive(Debug, Clone, Serialize)]
pub struct QueueSummary {
    #[serde(flatten)]
    pub queue: store::queues::Queue,
    pub role: Option<crate::domain::MembershipRole>,
    pub counts: store::queues::QueueCounts,
}

/// The queues the actor works in, with open-ticket counts.
pub async fn my_queues(db: &Db, actor: &Actor) -> Result<Vec<QueueSummary>> {
    actor.require(Scope::QueuesRead)?;
    let (t, access, memberships) = (
        actor.tenant,
        actor.queue_access(),
        actor.memberships.clone(),
    );
    db.read(move |c| -> Result<Vec<QueueSummary>> {
        let queues: Vec<_> = store::queues::list(c, t)?
            .into_iter()
            .filter(|q| access.allows(q.id))
            .collect();
        let ids: Vec<_> = queues.iter().map(|q| q.id).collect();
        let mut counts = store::queues::open_counts(c, t, &ids)?;
        Ok(queues
            .into_iter()
            .map(|q| {
                let role = memberships
                    .iter()
                    .find(|(id, _)| *id == q.id)
                    .map(|(_, r)| *r);
                let idx = counts.iter().position(|(id, _)| *id == q.id);
                let counts = idx.map(|i| counts.swap_remove(i).1).unwrap_or_default();
                QueueSummary {
                    queue: q,
                    role,
                    counts,
                }
            })
            .collect())
    })
    .await
}
