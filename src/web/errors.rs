//! The one place where errors become HTTP responses: a status, a stable machine-readable code, and
//! a message for people (from the locale files; Swedish unless the client asks for English).
//! API routes answer JSON (`ApiError`); pages answer an HTML error page (`PageError`).

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use super::templates::{DEFAULT_LOCALE, Templates};
use crate::error::Error;

/// Everything a handler can fail with: a domain outcome or a web-level refusal.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error(transparent)]
    Domain(#[from] Error),
    #[error("missing or invalid CSRF token")]
    Csrf,
    #[error("bad request: {0}")]
    BadRequest(String),
    /// Control characters or invalid UTF-8 (`web::input`).
    #[error("control character or invalid UTF-8 in the {0}")]
    BadInput(super::input::Part),
    /// A body over its route's limit (`web::input`).
    #[error("body larger than {limit} bytes")]
    TooLarge { limit: usize },
    /// A JSON body that does not fit the route's type: which field, and what is wrong with it
    /// (`web::api::json`). `detail` is serde's own description, for the machine-readable answer.
    #[error("JSON field {field:?}: {detail}")]
    BadJson {
        field: String,
        problem: super::api::json::JsonProblem,
        detail: String,
    },
}

impl From<crate::domain::InvalidValue> for Failure {
    fn from(v: crate::domain::InvalidValue) -> Self {
        Failure::Domain(Error::Invalid(v))
    }
}

impl From<crate::store::StoreError> for Failure {
    fn from(e: crate::store::StoreError) -> Self {
        Failure::Domain(e.into())
    }
}

impl Failure {
    pub fn status(&self) -> StatusCode {
        match self {
            Failure::Csrf => StatusCode::FORBIDDEN,
            Failure::BadRequest(_) => StatusCode::BAD_REQUEST,
            Failure::BadInput(_) => StatusCode::BAD_REQUEST,
            Failure::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Failure::BadJson { problem, .. } => match problem {
                super::api::json::JsonProblem::NotJson => StatusCode::UNSUPPORTED_MEDIA_TYPE,
                _ => StatusCode::BAD_REQUEST,
            },
            Failure::Domain(e) => match e {
                Error::NotFound(_) => StatusCode::NOT_FOUND,
                Error::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
                Error::Conflict(_) => StatusCode::CONFLICT,
                Error::Unauthenticated | Error::BadCredentials => StatusCode::UNAUTHORIZED,
                Error::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
                Error::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
                Error::Forbidden(_) => StatusCode::FORBIDDEN,
                Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
                Error::Egress(_) => StatusCode::UNPROCESSABLE_ENTITY,
            },
        }
    }

    /// Stable code for API clients. Never changes meaning once published.
    pub fn code(&self) -> &'static str {
        match self {
            Failure::Csrf => "csrf",
            Failure::BadRequest(_) => "bad_request",
            Failure::BadInput(_) => "bad_input",
            Failure::TooLarge { .. } => "too_large",
            Failure::BadJson { .. } => "bad_json",
            Failure::Domain(e) => match e {
                Error::NotFound(_) => "not_found",
                Error::Invalid(_) => "invalid",
                Error::Conflict(_) => "conflict",
                Error::Unauthenticated => "unauthenticated",
                Error::BadCredentials => "bad_credentials",
                Error::Throttled { .. } => "throttled",
                Error::Busy { .. } => "busy",
                Error::Forbidden(_) => "forbidden",
                Error::Internal(_) => "internal",
                Error::Egress(_) => "egress_refused",
            },
        }
    }

    /// The message for people, in `locale`.
    pub fn message(&self, locale: &str) -> String {
        let t = Templates::get();
        match self {
            Failure::Domain(Error::NotFound(what)) => {
                let specific = format!("error.not_found.{what}");
                let text = t.text(locale, &specific);
                if text == specific {
                    t.text(locale, "error.not_found")
                } else {
                    text
                }
            }
            Failure::Domain(Error::Invalid(v))
                if t.text(locale, &format!("error.invalid.{}", v.field))
                    != format!("error.invalid.{}", v.field) =>
            {
                t.text(locale, &format!("error.invalid.{}", v.field))
            }
            Failure::Domain(Error::Throttled { retry_after_secs }) if *retry_after_secs < 60 => t
                .text(locale, "error.throttled_seconds")
                .replace("{seconds}", &retry_after_secs.max(&1).to_string()),
            Failure::Domain(Error::Invalid(v)) => t
                .text(locale, "error.invalid")
                .replace("{field}", v.field)
                .replace("{reason}", &v.reason),
            Failure::Domain(Error::Throttled { retry_after_secs }) => t
                .text(locale, "error.throttled")
                .replace("{minutes}", &((retry_after_secs + 59) / 60).to_string()),
            Failure::Domain(Error::Egress(r)) => t
                .text(locale, "error.egress_refused")
                .replace("{address}", &r.address.to_string())
                .replace(
                    "{blocked}",
                    &t.text(locale, &format!("egress.blocked.{}", r.kind.key())),
                ),
            Failure::Domain(Error::Conflict(detail)) => {
                t.text(locale, "error.conflict").replace("{detail}", detail)
            }
            Failure::BadInput(part) => t.text(locale, "error.bad_input").replace(
                "{part}",
                &t.text(locale, &format!("error.bad_input.{part}")),
            ),
            Failure::TooLarge { limit } => t
                .text(locale, "error.too_large")
                .replace("{kb}", &limit.div_ceil(1024).to_string()),
            Failure::BadJson { field, problem, .. } => json_message(locale, field, problem),
            other => t.text(locale, &format!("error.{}", other.code())),
        }
    }

    fn log(&self) {
        if let Failure::Domain(Error::Internal(e)) = self {
            tracing::error!(error = %e, "request failed");
        }
    }

    fn retry_after(&self) -> Option<i64> {
        match self {
            Failure::Domain(Error::Throttled { retry_after_secs }) => Some(*retry_after_secs),
            Failure::Domain(Error::Busy { retry_after_secs }) => Some(*retry_after_secs),
            _ => None,
        }
    }
}

/// A JSON body's problem in words: which field (its label when the locale files have one) and
/// what is wrong, from `error.json.*`.
fn json_message(locale: &str, field: &str, problem: &super::api::json::JsonProblem) -> String {
    use super::api::json::JsonProblem as P;
    let t = Templates::get();
    let expected = |e: &super::api::json::Expected| {
        t.text(locale, &format!("error.json.expected.{}", e.key()))
    };
    let what = match problem {
        P::Syntax { line, column } => {
            return t
                .text(locale, "error.json.syntax")
                .replace("{line}", &line.to_string())
                .replace("{column}", &column.to_string());
        }
        P::NotJson => return t.text(locale, "error.json.not_json"),
        P::WrongType { expected: e } => t
            .text(locale, "error.json.wrong_type")
            .replace("{expected}", &expected(e)),
        P::OutOfRange { expected: e } => t
            .text(locale, "error.json.out_of_range")
            .replace("{expected}", &expected(e)),
        P::NotOneOf { value, allowed } => t
            .text(locale, "error.json.not_one_of")
            .replace("{value}", value)
            .replace("{allowed}", allowed),
        other => t.text(locale, &format!("error.json.{}", other.key())),
    };
    // The field as the API spells it; list positions count from 1 for people.
    let label_key = format!("field.{field}");
    let label = match t.text(locale, &label_key) {
        l if l != label_key => format!("{l} ({field})"),
        _ => field.to_string(),
    };
    t.text(locale, "error.json")
        .replace("{field}", &label)
        .replace("{problem}", &what)
}

/// Error of a JSON API handler.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ApiError(pub Failure);

impl<E: Into<Failure>> From<E> for ApiError {
    fn from(e: E) -> Self {
        ApiError(e.into())
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.0.status()
    }

    fn error_response(&self) -> HttpResponse {
        self.0.log();
        let mut body = json!({
            "error": { "code": self.0.code(), "message": self.0.message(DEFAULT_LOCALE) }
        });
        if let Failure::BadJson {
            field,
            problem,
            detail,
        } = &self.0
        {
            body["error"]["field"] = json!(field);
            body["error"]["reason"] = json!(problem.key());
            body["error"]["detail"] = json!(detail);
        }
        if let Failure::Domain(Error::Invalid(v)) = &self.0 {
            body["error"]["field"] = json!(v.field);
            body["error"]["reason"] = json!(v.reason);
        }
        let mut resp = HttpResponse::build(self.status_code()).json(body);
        if let Some(secs) = self.0.retry_after() {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}

/// Error of an HTML page handler: rendered with the error template.
#[derive(Debug, thiserror::Error)]
#[error("{failure}")]
pub struct PageError {
    pub failure: Failure,
    pub locale: &'static str,
}

impl<E: Into<Failure>> From<E> for PageError {
    fn from(e: E) -> Self {
        PageError {
            failure: e.into(),
            locale: DEFAULT_LOCALE,
        }
    }
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        self.failure.status()
    }

    fn error_response(&self) -> HttpResponse {
        self.failure.log();
        let status = self.status_code();
        let data = json!({
            "locale": self.locale,
            "status": status.as_u16(),
            "message": self.failure.message(self.locale),
            "signed_in": false,
        });
        let body = Templates::get().render("error", &data).unwrap_or_else(|_| {
            format!("{} {}", status.as_u16(), self.failure.message(self.locale))
        });
        let mut resp = HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .body(body);
        if let Some(secs) = self.failure.retry_after() {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}
