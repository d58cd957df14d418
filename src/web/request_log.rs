//! The log line of every HTTP request: tracing-actix-web's root span with bearer secrets taken
//! out of the address (16.7).

/// The root span of every HTTP request, as tracing-actix-web's default one (same field names),
/// except that bearer secrets in the address never reach it: `http.target` is the path and query
/// with every token redacted (see `redact_target`), and `http.client_ip` is the client as
/// `server.trusted_proxies` allow it to be named.
pub struct RedactingRootSpan;

impl tracing_actix_web::RootSpanBuilder for RedactingRootSpan {
    fn on_request_start(request: &actix_web::dev::ServiceRequest) -> tracing::Span {
        use actix_web::HttpMessage;
        let pattern = request.match_pattern();
        let route = pattern.as_deref().unwrap_or("default");
        let target = redact_target(
            request.uri().path_and_query().map_or("", |p| p.as_str()),
            pattern.as_deref(),
        );
        let method = request.method().as_str();
        let user_agent = request
            .headers()
            .get(actix_web::http::header::USER_AGENT)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        let request_id = request
            .extensions()
            .get::<tracing_actix_web::RequestId>()
            .map(|r| r.to_string())
            .unwrap_or_default();
        let info = request.connection_info().clone();
        let client_ip = super::auth::client_ip(request.request());
        tracing::info_span!(
            "HTTP request",
            http.method = %method,
            http.route = %route,
            http.flavor = ?request.version(),
            http.scheme = %info.scheme(),
            http.host = %info.host(),
            http.client_ip = %client_ip,
            http.user_agent = %user_agent,
            http.target = %target,
            http.status_code = tracing::field::Empty,
            otel.name = %format!("{method} {route}"),
            otel.kind = "server",
            otel.status_code = tracing::field::Empty,
            request_id = %request_id,
            exception.message = tracing::field::Empty,
            exception.details = tracing::field::Empty,
        )
    }

    fn on_request_end<B: actix_web::body::MessageBody>(
        span: tracing::Span,
        outcome: &Result<actix_web::dev::ServiceResponse<B>, actix_web::Error>,
    ) {
        tracing_actix_web::DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

/// What a request's address may show in a log. Bearer secrets go: a path segment matched by a
/// route parameter named `token` (the convention of every link that is its own key:
/// `/status/{token}`, `/remiss/{token}`, `/sms/reports/{token}`), and — for addresses no route
/// matched, and in the query — any segment or value shaped like a token (a JWT, or 32 or more
/// characters of letters and digits with both in them).
pub fn redact_target(path_and_query: &str, pattern: Option<&str>) -> String {
    const GONE: &str = "[redacted]";
    let (path, query) = match path_and_query.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path_and_query, None),
    };
    let params: Vec<&str> = pattern.map(|p| p.split('/').collect()).unwrap_or_default();
    let secret_param = |i: usize| {
        params.get(i).is_some_and(|seg| {
            seg.strip_prefix('{')
                .and_then(|s| s.strip_suffix('}'))
                .map(|s| s.split(':').next().unwrap_or(""))
                .is_some_and(|name| name == "token" || name.ends_with("_token"))
        })
    };
    let mut out = path
        .split('/')
        .enumerate()
        .map(|(i, seg)| {
            if secret_param(i) || looks_like_token(seg) {
                GONE
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/");
    if let Some(q) = query {
        let q: Vec<String> = q
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, v)) if looks_like_token(v) => format!("{k}={GONE}"),
                _ if looks_like_token(pair) => GONE.to_string(),
                _ => pair.to_string(),
            })
            .collect();
        out.push('?');
        out.push_str(&q.join("&"));
    }
    out
}

/// A JWT (three base64url parts, the first a JSON header) or a long random-looking string (hex or base64url keys).
fn looks_like_token(s: &str) -> bool {
    let b64 = |p: &str| {
        !p.is_empty()
            && p.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_' || c == b'%')
    };
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() == 3 && parts.iter().all(|p| b64(p)) && parts[0].starts_with("eyJ") {
        return true;
    }
    s.len() >= 32
        && b64(s)
        && s.bytes().any(|c| c.is_ascii_digit())
        && s.bytes().any(|c| c.is_ascii_alphabetic())
}

#[cfg(test)]
mod tests {
    use super::redact_target;

    #[test]
    fn path_tokens_are_redacted() {
        let jwt = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJrIjoic3RhdHVzIn0.0AJ0_yd7BXtj7Fl_cQ8z";
        assert_eq!(
            redact_target(
                &format!("/status/{jwt}/reply"),
                Some("/status/{token}/reply")
            ),
            "/status/[redacted]/reply"
        );
        // A short or odd token is still a `{token}` parameter.
        assert_eq!(
            redact_target("/sms/reports/abc", Some("/sms/reports/{token}")),
            "/sms/reports/[redacted]"
        );
        // No route matched: the shape decides, in the path and in the query.
        let hex = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822c";
        assert_eq!(
            redact_target(&format!("/status/{jwt}/x?link={jwt}&page=2&{hex}"), None),
            "/status/[redacted]/x?link=[redacted]&page=2&[redacted]"
        );
        // Ordinary addresses stay readable.
        for plain in [
            "/tickets/KC-2026-000123?sort=urgent&status=new,open",
            "/kb/exempel/hur-ansoker-jag-om-bygglov-for-carport",
            "/api/v1/tickets/KC-2026-000123/attachments/7",
        ] {
            assert_eq!(redact_target(plain, None), plain);
        }
    }
}
