//! Links to a ticket's citizen status page: signed, expiring JWTs naming the tenant, the ticket
//! and the ticket's link version (revoking a ticket's links raises the version). Made here for
//! every notice and mail that carries one; opened by `citizen`.

use chrono::Utc;
use serde::Serialize;

use crate::accounts::tokens::Signer;
use crate::domain::{TenantId, TicketId};
use crate::error::{Error, Result};
use crate::store::{self, Conn};

/// A fresh link to `ticket`'s status page, valid for `days`, for the ticket's current link
/// version (so revoking the ticket's links ends it too).
pub fn link(
    c: &mut Conn,
    signer: &Signer,
    public_url: &str,
    tenant: TenantId,
    ticket: TicketId,
    days: i64,
) -> Result<String> {
    let version = store::tickets::status_link_version(c, tenant, ticket)?;
    Ok(sign_link(signer, public_url, tenant, ticket, version, days))
}

fn sign_link(
    signer: &Signer,
    public_url: &str,
    tenant: TenantId,
    ticket: TicketId,
    version: i64,
    days: i64,
) -> String {
    let token = signer.sign_claims(&StatusClaims {
        k: STATUS_KIND.into(),
        t: tenant.get(),
        i: ticket.get(),
        v: version,
        exp: Utc::now().timestamp() + days.max(1) * 86_400,
    });
    format!("{}/status/{token}", public_url.trim_end_matches('/'))
}

const STATUS_KIND: &str = "status";

/// A status link's claims, kept short (the link also goes out by SMS).
#[derive(Debug, Serialize, serde::Deserialize)]
struct StatusClaims {
    /// Always "status".
    k: String,
    /// Tenant id.
    t: i64,
    /// Ticket id.
    i: i64,
    /// The ticket's status-link version when the link was made (links made before versions
    /// existed carry none: version 0).
    #[serde(default)]
    v: i64,
    exp: i64,
}

pub(crate) const INVALID_LINK: &str = "the link is invalid or has expired";

/// A tampered or expired link opens nothing (and says nothing about the ticket).
pub(crate) fn verify(signer: &Signer, token: &str) -> Result<(TenantId, TicketId, i64)> {
    let c: StatusClaims = signer
        .verify_claims(token)
        .filter(|c: &StatusClaims| c.k == STATUS_KIND)
        .ok_or(Error::Forbidden(INVALID_LINK))?;
    Ok((TenantId::from_db(c.t), TicketId::from_db(c.i), c.v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::Keys;

    #[test]
    fn a_link_opens_its_ticket_only_untampered_and_unexpired() {
        let signer = Signer::new(&Keys::from_hex(&"ab".repeat(32)).unwrap());
        let url = sign_link(
            &signer,
            "https://arendo.example",
            TenantId::from_db(3),
            TicketId::from_db(77),
            4,
            30,
        );
        let token = url.strip_prefix("https://arendo.example/status/").unwrap();
        assert_eq!(
            verify(&signer, token).unwrap(),
            (TenantId::from_db(3), TicketId::from_db(77), 4)
        );
        assert!(
            token.len() < 160,
            "short enough for an SMS: {}",
            token.len()
        );
        // Tampered: any changed character of the signature.
        let mut bad = token.to_string();
        let last = bad.pop().unwrap();
        bad.push(if last == 'A' { 'B' } else { 'A' });
        assert!(verify(&signer, &bad).is_err());
        // Another installation's key.
        let other = Signer::new(&Keys::from_hex(&"cd".repeat(32)).unwrap());
        assert!(verify(&other, token).is_err());
        // Expired.
        let old = signer.sign_claims(&StatusClaims {
            k: STATUS_KIND.into(),
            t: 3,
            i: 77,
            v: 0,
            exp: Utc::now().timestamp() - 3600,
        });
        assert!(verify(&signer, &old).is_err());
        // A session token is not a status link.
        let session = signer.sign(&crate::accounts::tokens::Claims {
            sub: 77,
            tid: 3,
            jti: "x".into(),
            typ: crate::accounts::tokens::TokenKind::Session,
            iat: 0,
            exp: Utc::now().timestamp() + 3600,
            scp: vec![],
        });
        assert!(verify(&signer, &session).is_err());
    }
}
