//! Escalation targets as administrators manage them on `/admin/escalation`: the list (with the
//! queues that use each as their default), and saving a records-system, referral or transfer
//! target. Secrets are write-only: a form shows whether one is set, never the value, and an
//! empty secret field on an existing target keeps the stored one.

use std::collections::BTreeMap;

use serde::Serialize;

use super::ReferralTarget;
use super::{Auth, RecordsTarget};
use crate::accounts::Actor;
use crate::accounts::permissions::require_admin;
use crate::delivery::http::refuse_literal;
use crate::domain::FormatKind;
use crate::domain::InvalidValue;
use crate::domain::Reason;
use crate::error::{Error, Result};
use crate::secrets::Keys;
use crate::store::{self, Conn, Db};

/// A target as the admin pages show it (no secrets).
#[derive(Debug, Clone, Serialize)]
pub struct TargetView {
    pub id: i64,
    pub name: String,
    /// `records`, `referral` or `transfer`.
    pub kind: String,
    pub url: Option<String>,
    pub method: String,
    /// One `Name: value` per line.
    pub headers: String,
    /// The names of the secret headers (their values are never shown).
    pub secret_header_names: Vec<String>,
    /// `none`, `bearer` or `basic`.
    pub auth: String,
    pub auth_user: Option<String>,
    pub has_auth_secret: bool,
    pub has_hmac_secret: bool,
    pub content_type: String,
    pub body_template: String,
    pub case_pointer: String,
    pub timeout_seconds: i32,
    pub referral_email: Option<String>,
    pub response_days: Option<i32>,
    pub allow_citizen_reply: bool,
    pub referral_pauses_sla: bool,
    pub transfer_queue: Option<i64>,
    pub transfer_queue_name: Option<String>,
    /// Queues that escalate here by default.
    pub default_for: Vec<String>,
    /// Referral targets: the users (handlers) who answer for the department.
    pub handlers: Vec<i64>,
}

/// The tenant's queues with their default target: (id, name, default).
type QueueDefaults = Vec<(i64, String, Option<i64>)>;

fn queue_defaults(c: &mut Conn, t: crate::domain::TenantId) -> Result<QueueDefaults> {
    let mut out = vec![];
    for q in store::queues::list(c, t)? {
        let d = store::escalation::queue_default(c, t, q.id)?;
        out.push((q.id.get(), q.name, d));
    }
    Ok(out)
}

fn view(
    c: &mut Conn,
    t: crate::domain::TenantId,
    x: store::escalation::Target,
    queues: &QueueDefaults,
) -> Result<TargetView> {
    let handlers = store::escalation::handlers_of(c, t, x.id)?;
    let headers: BTreeMap<String, String> = serde_json::from_str(&x.headers).unwrap_or_default();
    let secret: BTreeMap<String, String> =
        serde_json::from_str(&x.secret_headers).unwrap_or_default();
    Ok(TargetView {
        secret_header_names: secret.into_keys().collect(),
        handlers,
        id: x.id,
        name: x.name,
        kind: x.kind,
        url: x.url,
        method: x.method,
        headers: headers
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>()
            .join("\n"),
        auth: x.auth,
        auth_user: x.auth_user,
        has_auth_secret: x.auth_secret.is_some(),
        has_hmac_secret: x.hmac_secret.is_some(),
        content_type: x.content_type,
        body_template: x.body_template,
        case_pointer: x.case_pointer,
        timeout_seconds: x.timeout_seconds,
        referral_email: x.referral_email,
        response_days: x.response_days,
        allow_citizen_reply: x.allow_citizen_reply,
        referral_pauses_sla: x.referral_pauses_sla,
        transfer_queue: x.transfer_queue_id,
        transfer_queue_name: x.transfer_queue_id.and_then(|q| {
            queues
                .iter()
                .find(|(id, _, _)| *id == q)
                .map(|(_, n, _)| n.clone())
        }),
        default_for: queues
            .iter()
            .filter(|(_, _, d)| *d == Some(x.id))
            .map(|(_, n, _)| n.clone())
            .collect(),
    })
}

/// The tenant's active handler accounts: (id, name, e-mail).
fn handler_users(c: &mut Conn, t: crate::domain::TenantId) -> Result<Vec<(i64, String, String)>> {
    Ok(store::users::list(c, t)?
        .into_iter()
        .filter(|u| u.role == crate::domain::Role::Handler && u.active)
        .map(|u| (u.id.get(), u.display_name, u.email))
        .collect())
}

/// What the forms can name: the tenant's queues (id, name) and handler accounts (id, name,
/// e-mail).
pub struct Choices {
    pub queues: Vec<(i64, String)>,
    pub handlers: Vec<(i64, String, String)>,
}

/// The tenant's targets by name, and what the forms can choose from.
pub async fn overview(db: &Db, actor: &Actor) -> Result<(Vec<TargetView>, Choices)> {
    require_admin(actor)?;
    let t = actor.tenant;
    db.read(move |c| -> Result<_> {
        let queues = queue_defaults(c, t)?;
        let mut targets = vec![];
        for x in store::escalation::targets(c, t)? {
            targets.push(view(c, t, x, &queues)?);
        }
        let choices = Choices {
            queues: queues.iter().map(|(id, n, _)| (*id, n.clone())).collect(),
            handlers: handler_users(c, t)?,
        };
        Ok((targets, choices))
    })
    .await
}

pub async fn get(db: &Db, actor: &Actor, id: i64) -> Result<TargetView> {
    require_admin(actor)?;
    let t = actor.tenant;
    db.read(move |c| -> Result<_> {
        let queues = queue_defaults(c, t)?;
        let x = store::escalation::target(c, t, id)?.ok_or(Error::NotFound("escalation target"))?;
        view(c, t, x, &queues)
    })
    .await
}

/// A records-system target as typed on the form. `auth_secret`/`hmac_secret` empty: keep the
/// stored one (on a new target: none).
#[derive(Debug, Clone, Default)]
pub struct RecordsForm {
    pub name: String,
    pub url: String,
    pub method: String,
    pub content_type: String,
    pub headers: String,
    /// One `Name: value` per line; `Name:` alone keeps the stored value; a stored secret header
    /// not listed is removed.
    pub secret_headers: String,
    pub auth: String,
    pub auth_user: String,
    pub auth_secret: String,
    pub hmac_secret: String,
    pub remove_hmac: bool,
    pub body_template: String,
    pub case_pointer: String,
    pub timeout_seconds: String,
}

fn parse_headers(text: &str) -> Result<BTreeMap<String, String>, InvalidValue> {
    let mut out = BTreeMap::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (k, v) = line.split_once(':').ok_or_else(|| {
            InvalidValue::new("headers", Reason::format(line, FormatKind::HeaderLine))
        })?;
        out.insert(k.trim().to_string(), v.trim().to_string());
    }
    Ok(out)
}

/// The secret headers as typed: a line with a value sets it, `Name:` alone keeps the stored one
/// (`stored` are the sealed values of the target being edited).
fn secret_headers(
    text: &str,
    stored: &BTreeMap<String, String>,
    keys: &Keys,
) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (k, v) = line.split_once(':').unwrap_or((line, ""));
        let (k, v) = (k.trim(), v.trim());
        let value = if v.is_empty() {
            let sealed = stored
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(k))
                .map(|(_, s)| s)
                .ok_or_else(|| {
                    InvalidValue::new(
                        "secret_headers",
                        Reason::SecretNoValue {
                            name: k.to_string(),
                        },
                    )
                })?;
            let open = keys
                .open(sealed)
                .map_err(|e| Error::Internal(format!("stored secret: {e}")))?;
            secrecy::ExposeSecret::expose_secret(&open).to_string()
        } else {
            v.to_string()
        };
        out.insert(k.to_string(), value);
    }
    Ok(out)
}

/// Secret header values as the CLI reads them: `None` keeps the value stored on the tenant's
/// target `name` (if it has one for that header).
pub fn secret_values(
    c: &mut Conn,
    keys: &Keys,
    t: crate::domain::TenantId,
    name: &str,
    given: Vec<(String, Option<String>)>,
) -> Result<BTreeMap<String, String>> {
    let stored: BTreeMap<String, String> = store::escalation::target_by_name(c, t, name.trim())?
        .map(|x| serde_json::from_str(&x.secret_headers).unwrap_or_default())
        .unwrap_or_default();
    let text = given
        .into_iter()
        .map(|(k, v)| format!("{k}: {}", v.unwrap_or_default()))
        .collect::<Vec<_>>()
        .join("\n");
    secret_headers(&text, &stored, keys)
}

/// The target being edited (same tenant, same kind), or for a new one: that the name is free.
fn existing(
    c: &mut Conn,
    t: crate::domain::TenantId,
    id: Option<i64>,
    name: &str,
    kind: &str,
) -> Result<Option<store::escalation::Target>> {
    match id {
        Some(id) => {
            let x = store::escalation::target(c, t, id)?
                .filter(|x| x.kind == kind)
                .ok_or(Error::NotFound("escalation target"))?;
            Ok(Some(x))
        }
        None => {
            if store::escalation::target_by_name(c, t, name.trim())?.is_some() {
                return Err(Error::Conflict(crate::error::Conflict::TargetExists {
                    name: name.trim().to_string(),
                }));
            }
            Ok(None)
        }
    }
}

/// Create (id None) or change a records-system target. The name of an existing target stays.
pub async fn save_records(
    db: &Db,
    actor: &Actor,
    keys: std::sync::Arc<Keys>,
    egress: &crate::egress::Policy,
    id: Option<i64>,
    f: RecordsForm,
) -> Result<i64> {
    require_admin(actor)?;
    refuse_literal(egress, f.url.trim())?;
    let t = actor.tenant;
    db.write(move |c| -> Result<i64> {
        let old = existing(c, t, id, &f.name, "records")?;
        let unseal = |s: &Option<String>| -> Result<Option<String>> {
            s.as_deref()
                .map(|x| {
                    keys.open(x)
                        .map(|v| secrecy::ExposeSecret::expose_secret(&v).to_string())
                        .map_err(|e| Error::Internal(format!("stored secret: {e}")))
                })
                .transpose()
        };
        let typed = |s: &str| (!s.is_empty()).then(|| s.to_string());
        let secret = match typed(&f.auth_secret) {
            Some(s) => Some(s),
            // Kept only for the same kind of auth.
            None => match &old {
                Some(o) if o.auth == f.auth => unseal(&o.auth_secret)?,
                _ => None,
            },
        };
        let auth = match f.auth.as_str() {
            "none" | "" => Auth::None,
            "bearer" => {
                Auth::Bearer(secret.ok_or_else(|| InvalidValue::new("auth_secret", Reason::Empty))?)
            }
            "basic" => {
                let user = f.auth_user.trim();
                if user.is_empty() {
                    return Err(InvalidValue::new("auth_user", Reason::Empty).into());
                }
                Auth::Basic(
                    user.to_string(),
                    secret.ok_or_else(|| InvalidValue::new("auth_secret", Reason::Empty))?,
                )
            }
            other => {
                return Err(InvalidValue::new(
                    "auth",
                    Reason::not_one_of(other, &["none", "bearer", "basic"]),
                )
                .into());
            }
        };
        let hmac_secret = if f.remove_hmac {
            None
        } else {
            match typed(&f.hmac_secret) {
                Some(s) => Some(s),
                None => match &old {
                    Some(o) => unseal(&o.hmac_secret)?,
                    None => None,
                },
            }
        };
        let target = RecordsTarget {
            name: old
                .as_ref()
                .map(|o| o.name.clone())
                .unwrap_or(f.name.clone()),
            url: f.url.trim().to_string(),
            method: f.method.clone(),
            headers: parse_headers(&f.headers)?,
            secret_headers: secret_headers(
                &f.secret_headers,
                &old.as_ref()
                    .map(|o| serde_json::from_str(&o.secret_headers).unwrap_or_default())
                    .unwrap_or_default(),
                &keys,
            )?,
            auth,
            hmac_secret,
            content_type: match f.content_type.trim() {
                "" => "application/json".to_string(),
                ct => ct.to_string(),
            },
            body_template: f.body_template.clone(),
            case_pointer: f.case_pointer.trim().to_string(),
            timeout_seconds: f.timeout_seconds.trim().parse().map_err(|_| {
                InvalidValue::new("timeout_seconds", Reason::Range { min: 1, max: 120 })
            })?,
        };
        super::save_records_target(c, &keys, t, &target)
    })
    .await
}

/// Create (id None) or change a referral target and who answers for it (handler accounts of
/// the tenant). The name of an existing target stays.
pub async fn save_referral(
    db: &Db,
    actor: &Actor,
    id: Option<i64>,
    mut r: ReferralTarget,
    handlers: Vec<i64>,
) -> Result<i64> {
    require_admin(actor)?;
    let t = actor.tenant;
    db.write(move |c| -> Result<i64> {
        if let Some(old) = existing(c, t, id, &r.name, "referral")? {
            r.name = old.name;
        }
        let allowed = handler_users(c, t)?;
        if let Some(bad) = handlers
            .iter()
            .find(|h| !allowed.iter().any(|(id, _, _)| id == *h))
        {
            return Err(InvalidValue::new(
                "handlers",
                Reason::NotAHandler {
                    user: bad.to_string(),
                },
            )
            .into());
        }
        let target = super::save_referral_target(c, t, &r)?;
        store::escalation::set_handlers(c, t, target, &handlers, store::now())?;
        Ok(target)
    })
    .await
}

/// Create (id None) or change a transfer target. The name of an existing target stays.
pub async fn save_transfer(
    db: &Db,
    actor: &Actor,
    id: Option<i64>,
    name: String,
    queue: i64,
) -> Result<i64> {
    require_admin(actor)?;
    let t = actor.tenant;
    db.write(move |c| -> Result<i64> {
        let name = match existing(c, t, id, &name, "transfer")? {
            Some(old) => old.name,
            None => name,
        };
        let q = store::queues::lookup(c, t, queue)?
            .ok_or_else(|| InvalidValue::new("queue", Reason::Choose))?;
        super::save_transfer_target(c, t, &name, &q.slug)
    })
    .await
}

// ---- by name, as the command line writes them ----

/// A records-system target as `arendo escalation records` gives it: secrets typed (None for a
/// secret header: keep the stored value), and the queues (slugs) it becomes the default of.
pub struct RecordsByName {
    pub target: RecordsTarget,
    pub secret_headers: Vec<(String, Option<String>)>,
    pub default_for: Vec<String>,
}

/// Create or replace (by name) a records-system target and make it the default of queues
/// (admins). An address the egress policy refuses is refused here, as on the admin page.
pub async fn put_records(
    db: &Db,
    actor: &Actor,
    keys: std::sync::Arc<Keys>,
    egress: &crate::egress::Policy,
    r: RecordsByName,
) -> Result<i64> {
    require_admin(actor)?;
    refuse_literal(egress, r.target.url.trim())?;
    let t = actor.tenant;
    db.write(move |c| -> Result<i64> {
        let mut target = r.target;
        target.secret_headers = secret_values(c, &keys, t, &target.name, r.secret_headers)?;
        let id = super::save_records_target(c, &keys, t, &target)?;
        for slug in &r.default_for {
            let q = store::queues::by_slug(c, t, slug.trim())?.ok_or(Error::NotFound("queue"))?;
            store::escalation::set_queue_default(c, t, q.id, Some(id))?;
        }
        Ok(id)
    })
    .await
}

/// Create or replace (by name) a referral target, keeping who answers for it (admins).
pub async fn put_referral(db: &Db, actor: &Actor, r: ReferralTarget) -> Result<i64> {
    require_admin(actor)?;
    let t = actor.tenant;
    db.write(move |c| super::save_referral_target(c, t, &r))
        .await
}

/// Create or replace (by name) a transfer target to the queue `queue` (a slug; admins).
pub async fn put_transfer(db: &Db, actor: &Actor, name: &str, queue: &str) -> Result<i64> {
    require_admin(actor)?;
    let (t, name, queue) = (actor.tenant, name.to_string(), queue.to_string());
    db.write(move |c| super::save_transfer_target(c, t, &name, &queue))
        .await
}
