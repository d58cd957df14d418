//! Who is calling: extractors for signed-in pages (`PageActor`), the JSON API (`ApiActor`), and
//! CSRF-checked form posts (`CsrfForm`).
//!
//! CSRF uses signed double-submit cookies: a random `arendo_csrf` cookie (HttpOnly, SameSite=Strict)
//! and, in each form, HMAC(key, cookie, session). The token is bound to the session: before sign-in
//! the browser's random cookie alone is the binding, and once a session cookie exists the token
//! is a different one, valid only with that session. A form post without a matching token, or
//! with a foreign Origin, is refused with 403. The Origin is compared with the request's host —
//! `X-Forwarded-Host` / `Forwarded: host=` are believed only from `server.trusted_proxies` — or
//! with `server.public_url`. Under https both cookies carry the `__Host-` prefix (Secure, Path=/,
//! no Domain), so a sibling subdomain cannot plant them.
//! Because `CsrfForm<T>` is the only way handlers read a form, no form post can skip the check.
//! Cookie-authenticated API writes need the same token in an `X-CSRF-Token` header.

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::dev::Payload;
use actix_web::http::{Method, header};
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use serde::de::DeserializeOwned;

use super::AppState;
use super::errors::{ApiError, Failure, PageError};
use crate::accounts::tokens::TokenKind;
use crate::accounts::{self, Actor};
use crate::error::Error;

pub const SESSION_COOKIE: &str = "arendo_session";
pub const CSRF_COOKIE: &str = "arendo_csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The name of cookie `base` for this installation: `__Host-<base>` under https.
pub fn cookie_name(st: &AppState, base: &str) -> String {
    if st.settings.secure_cookies() {
        format!("__Host-{base}")
    } else {
        base.to_string()
    }
}

/// The MAC a form must carry: over the browser's CSRF cookie and its session cookie (empty
/// before sign-in), so a token from before sign-in, or of another session, does not fit.
fn csrf_mac(st: &AppState, req: &HttpRequest, csrf_cookie: &str) -> String {
    let session = req
        .cookie(&cookie_name(st, SESSION_COOKIE))
        .map(|c| c.value().to_string())
        .unwrap_or_default();
    st.keys
        .csrf_mac(format!("{csrf_cookie}\n{session}").as_bytes())
}

fn state(req: &HttpRequest) -> web::Data<AppState> {
    req.app_data::<web::Data<AppState>>()
        .expect("AppState is registered")
        .clone()
}

/// The CSRF token for this request's browser, and the cookie to set if it has none yet.
pub fn csrf_token(req: &HttpRequest) -> (String, Option<Cookie<'static>>) {
    let st = state(req);
    let name = cookie_name(&st, CSRF_COOKIE);
    match req.cookie(&name) {
        Some(c) if c.value().len() == 64 => (csrf_mac(&st, req, c.value()), None),
        _ => {
            let value = hex::encode(rand::random::<[u8; 32]>());
            let token = csrf_mac(&st, req, &value);
            let cookie = Cookie::build(name, value)
                .path("/")
                .http_only(true)
                .secure(st.settings.secure_cookies())
                .same_site(SameSite::Strict)
                .finish();
            (token, Some(cookie))
        }
    }
}

fn csrf_ok(req: &HttpRequest, presented: &str) -> bool {
    let st = state(req);
    let Some(cookie) = req.cookie(&cookie_name(&st, CSRF_COOKIE)) else {
        return false;
    };
    let expected = csrf_mac(&st, req, cookie.value());
    constant_time_eq(expected.as_bytes(), presented.as_bytes())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub fn session_cookie(st: &AppState, token: String) -> Cookie<'static> {
    Cookie::build(cookie_name(st, SESSION_COOKIE), token)
        .path("/")
        .http_only(true)
        .secure(st.settings.secure_cookies())
        .same_site(SameSite::Strict)
        .max_age(CookieDuration::hours(i64::from(
            st.settings.auth.session_hours,
        )))
        .finish()
}

pub fn clear_session_cookie(st: &AppState) -> Cookie<'static> {
    let mut c = session_cookie(st, String::new());
    c.make_removal();
    c
}

/// The signed-in agent of a page request. Without a live session: redirect to the login page.
pub struct PageActor(pub Actor);

#[derive(Debug, thiserror::Error)]
#[error("sign-in required")]
pub struct SignInRequired;

impl ResponseError for SignInRequired {
    fn status_code(&self) -> actix_web::http::StatusCode {
        actix_web::http::StatusCode::SEE_OTHER
    }
    fn error_response(&self) -> HttpResponse {
        HttpResponse::SeeOther()
            .insert_header((header::LOCATION, "/login"))
            .finish()
    }
}

impl FromRequest for PageActor {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let st = state(req);
        let token = req
            .cookie(&cookie_name(&st, SESSION_COOKIE))
            .map(|c| c.value().to_string());
        Box::pin(async move {
            let token = token.ok_or(SignInRequired)?;
            match accounts::authenticate(&st.db, &st.signer, &token, TokenKind::Session).await {
                Ok(a) => Ok(PageActor(a)),
                Err(Error::Unauthenticated) => Err(SignInRequired.into()),
                Err(e) => Err(PageError::from(e).into()),
            }
        })
    }
}

/// The caller of an API request: a bearer API token, or a browser session (then writes need the
/// CSRF header).
pub struct ApiActor(pub Actor);

impl FromRequest for ApiActor {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let st = state(req);
        let bearer = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").map(|s| s.trim().to_string()));
        let cookie = req
            .cookie(&cookie_name(&st, SESSION_COOKIE))
            .map(|c| c.value().to_string());
        let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
        let csrf_valid = req
            .headers()
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| csrf_ok(req, v));
        // The scope this route declares in `api::ROUTES`; a route that declares none is refused.
        let pattern = req.match_pattern();
        let need = pattern
            .as_deref()
            .and_then(|p| super::api::need_of(req.method(), p));
        Box::pin(async move {
            let Some(need) = need else {
                tracing::error!(route = ?pattern, "API route declares no scope: refused");
                return Err(ApiError(Failure::Domain(Error::Forbidden(
                    "the route declares no scope",
                ))));
            };
            let (token, kind) = match (bearer, cookie) {
                (Some(b), _) => (b, TokenKind::Api),
                (None, Some(c)) => {
                    if !safe && !csrf_valid {
                        return Err(ApiError(Failure::Csrf));
                    }
                    (c, TokenKind::Session)
                }
                (None, None) => return Err(ApiError(Failure::Domain(Error::Unauthenticated))),
            };
            let actor = accounts::authenticate(&st.db, &st.signer, &token, kind).await?;
            if let super::api::Need::Scope(scope) = need {
                actor.require(scope)?;
            }
            Ok(ApiActor(actor))
        })
    }
}

/// A form that carries a `csrf` field.
pub trait HasCsrf {
    fn csrf(&self) -> &str;
}

/// A URL-encoded form whose CSRF token (and, when sent, Origin header) has been checked.
pub struct CsrfForm<T>(pub T);

impl<T: DeserializeOwned + HasCsrf + 'static> FromRequest for CsrfForm<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let form = web::Form::<T>::from_request(&req, payload);
        Box::pin(async move {
            let form = match form.await {
                Ok(f) => f.into_inner(),
                // `web::input::form_config` answers: too large (413) and bad bytes (400) say
                // so; any other unreadable form is refused as untrusted (CSRF).
                Err(e) => return Err(e),
            };
            if !form_trusted(&req, form.csrf()) {
                return Err(PageError::from(Failure::Csrf).into());
            }
            Ok(CsrfForm(form))
        })
    }
}

/// Whether a posted form comes from our own pages: same Origin (when the browser sends one) and a
/// valid CSRF token. For forms not read by `CsrfForm` (multipart uploads).
pub fn form_trusted(req: &HttpRequest, token: &str) -> bool {
    let same_origin = match req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
    {
        None => true,
        Some(origin) => {
            let st = state(req);
            let host = request_host(req, &st.proxies);
            let public = st.settings.server.public_url.trim_end_matches('/');
            origin
                .strip_prefix("http://")
                .or_else(|| origin.strip_prefix("https://"))
                == Some(host.as_str())
                || (!public.is_empty() && origin == public)
        }
    };
    let ok = same_origin && csrf_ok(req, token);
    if !ok {
        // The route, never the address: it may hold a bearer link (`/status/{token}`).
        let route = req.match_pattern().unwrap_or_default();
        tracing::warn!(%route, "form post refused: CSRF check failed");
    }
    ok
}

/// The host the browser addressed: the `Host` header (or the HTTP/2 authority), or — only when
/// the peer is one of `server.trusted_proxies` — what the proxy says in `Forwarded: host=` or
/// `X-Forwarded-Host`. A client cannot choose it with a header of its own.
pub fn request_host(req: &HttpRequest, trusted: &[ipnet::IpNet]) -> String {
    let from_proxy = req
        .peer_addr()
        .is_some_and(|a| trusted.iter().any(|n| n.contains(&a.ip())));
    if from_proxy {
        return req.connection_info().host().to_string();
    }
    req.headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| req.uri().authority().map(|a| a.to_string()))
        .unwrap_or_default()
}

/// The client address for throttling: the TCP peer, or — when the peer is one of
/// `server.trusted_proxies` — the nearest address in `X-Forwarded-For` that is not a trusted
/// proxy (see docs/operations.md).
pub fn client_ip(req: &HttpRequest) -> String {
    let trusted = req
        .app_data::<web::Data<super::AppState>>()
        .map(|s| s.proxies.clone())
        .unwrap_or_default();
    let forwarded: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .collect();
    client_ip_from(req.peer_addr().map(|a| a.ip()), &forwarded, &trusted)
        .map(|ip| ip.to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// The client behind `peer`: walk `X-Forwarded-For` (all its lines, left to right as sent) from
/// the right while the hop is a trusted proxy. A header from an untrusted peer is never read, so a
/// client cannot choose its own address.
fn client_ip_from(
    peer: Option<std::net::IpAddr>,
    forwarded: &[&str],
    trusted: &[ipnet::IpNet],
) -> Option<std::net::IpAddr> {
    let is_trusted = |ip: &std::net::IpAddr| trusted.iter().any(|n| n.contains(ip));
    let mut client = peer?;
    if !is_trusted(&client) {
        return Some(client);
    }
    let hops = forwarded
        .iter()
        .flat_map(|line| line.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    for hop in hops.iter().rev() {
        let Ok(ip) = hop.parse::<std::net::IpAddr>() else {
            // A hop that is not an address: stop at the last one we could trust.
            break;
        };
        client = ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    Some(client)
}

#[cfg(test)]
mod client_ip_tests {
    use super::client_ip_from;

    fn nets(s: &[&str]) -> Vec<ipnet::IpNet> {
        s.iter().map(|x| x.parse().unwrap()).collect()
    }

    #[test]
    fn only_trusted_proxies_may_name_the_client() {
        let proxy = Some("10.0.0.5".parse().unwrap());
        let trusted = nets(&["10.0.0.0/24"]);
        let ip = |p, f: &[&str], t: &[ipnet::IpNet]| client_ip_from(p, f, t).unwrap().to_string();
        // No proxies configured: the peer, whatever the header says.
        assert_eq!(ip(proxy, &["203.0.113.7"], &[]), "10.0.0.5");
        // From the proxy: the address it saw.
        assert_eq!(ip(proxy, &["203.0.113.7"], &trusted), "203.0.113.7");
        // A client's own forged entry stays to the left of what the proxy appended.
        assert_eq!(
            ip(proxy, &["1.2.3.4, 203.0.113.7"], &trusted),
            "203.0.113.7"
        );
        // Two trusted hops, and the header split over two lines.
        assert_eq!(
            ip(proxy, &["203.0.113.7", "10.0.0.9"], &trusted),
            "203.0.113.7"
        );
        // From an untrusted peer the header is ignored.
        let stranger = Some("198.51.100.1".parse().unwrap());
        assert_eq!(ip(stranger, &["203.0.113.7"], &trusted), "198.51.100.1");
        // Garbage or nothing after the proxy: the proxy itself.
        assert_eq!(ip(proxy, &["unknown"], &trusted), "10.0.0.5");
        assert_eq!(ip(proxy, &[], &trusted), "10.0.0.5");
    }
}
