//! JSON bodies of the API: read by actix (content type, size limits and the edge's byte checks,
//! as `web::Json`), then into the route's type with the path of whatever did not fit, so every
//! 400 names the field and what is wrong with it (`Failure::BadJson`).

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use serde::de::DeserializeOwned;

use crate::web::errors::{ApiError, Failure};

/// What is wrong with one field of a JSON body. serde describes it in English prose; this is the
/// machine-readable part of that description, which the locale files turn into a sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonProblem {
    /// A required field is not there.
    Missing,
    /// A field the route does not take.
    UnknownField,
    /// A value of the wrong kind (a text where a number belongs, …).
    WrongType { expected: Expected },
    /// A value of the right kind that is not one of the allowed words.
    NotOneOf { value: String, allowed: String },
    /// A value of the right kind that is out of range.
    OutOfRange { expected: Expected },
    /// The body is not JSON at all, or breaks off (line and column of the first error).
    Syntax { line: usize, column: usize },
    /// The body was not sent as `application/json`.
    NotJson,
    /// Anything else serde refused.
    Other,
}

/// What a field expects, as far as the body's type tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    Integer,
    Text,
    Boolean,
    List,
    Object,
    /// A queue's id or slug.
    Queue,
    Other,
}

impl Expected {
    pub fn key(self) -> &'static str {
        match self {
            Expected::Integer => "integer",
            Expected::Text => "text",
            Expected::Boolean => "boolean",
            Expected::List => "list",
            Expected::Object => "object",
            Expected::Queue => "queue",
            Expected::Other => "other",
        }
    }

    fn from_serde(expected: &str) -> Expected {
        let e = expected.trim();
        match e {
            "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64" | "usize" | "isize" => {
                Expected::Integer
            }
            "a string" | "a borrowed string" | "a character" => Expected::Text,
            "a boolean" => Expected::Boolean,
            "a sequence" => Expected::List,
            "a queue id or slug" => Expected::Queue,
            _ if e.starts_with("struct ") || e == "a map" => Expected::Object,
            _ if e.contains("integer") => Expected::Integer,
            _ => Expected::Other,
        }
    }
}

impl JsonProblem {
    pub fn key(&self) -> &'static str {
        match self {
            JsonProblem::Missing => "missing",
            JsonProblem::UnknownField => "unknown_field",
            JsonProblem::WrongType { .. } => "wrong_type",
            JsonProblem::NotOneOf { .. } => "not_one_of",
            JsonProblem::OutOfRange { .. } => "out_of_range",
            JsonProblem::Syntax { .. } => "syntax",
            JsonProblem::NotJson => "not_json",
            JsonProblem::Other => "other",
        }
    }
}

/// The field and the problem, from serde's error and the path where it happened. serde names a
/// missing or unknown field only in its message (the path then ends at the object holding it).
pub fn classify(path: &str, message: &str) -> (String, JsonProblem) {
    let path = if path == "." { "" } else { path };
    let join = |field: &str| match path {
        "" => field.to_string(),
        p => format!("{p}.{field}"),
    };
    let quoted = |m: &str| m.split('`').nth(1).map(str::to_string);
    let msg = strip_position(message);
    if let Some(rest) = msg.strip_prefix("missing field ")
        && let Some(f) = quoted(rest)
    {
        return (join(&f), JsonProblem::Missing);
    }
    // For an unknown field the path already names it; for a missing one it ends at its object.
    if msg.starts_with("unknown field ") {
        return (path.to_string(), JsonProblem::UnknownField);
    }
    let expected = msg.rsplit_once(", expected ").map(|(_, e)| e).unwrap_or("");
    if msg.starts_with("invalid type:") {
        return (
            path.to_string(),
            JsonProblem::WrongType {
                expected: Expected::from_serde(expected),
            },
        );
    }
    if let Some(rest) = msg.strip_prefix("unknown variant ") {
        let value = quoted(rest).unwrap_or_default();
        // serde lists the variants in backticks ("expected `a` or `b`", "one of `a`, `b`, `c`").
        let allowed = rest
            .split_once("expected ")
            .map(|(_, a)| {
                a.split('`')
                    .skip(1)
                    .step_by(2)
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        return (path.to_string(), JsonProblem::NotOneOf { value, allowed });
    }
    if msg.starts_with("invalid value:") {
        return (
            path.to_string(),
            JsonProblem::OutOfRange {
                expected: Expected::from_serde(expected),
            },
        );
    }
    (path.to_string(), JsonProblem::Other)
}

/// serde_json appends " at line L column C" to data errors read from text.
fn strip_position(m: &str) -> &str {
    match m.rfind(" at line ") {
        Some(at) if m[at..].contains(" column ") => &m[..at],
        _ => m,
    }
}

/// A JSON body of type `T`, refused with the path and the problem when it does not fit.
pub struct ApiJson<T>(pub T);

impl<T> ApiJson<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        // actix reads the body (content type, limits, syntax) with the scope's JsonConfig.
        let value = web::Json::<serde_json::Value>::from_request(req, payload);
        Box::pin(async move {
            let value = value.await?.into_inner();
            serde_path_to_error::deserialize::<_, T>(value)
                .map(ApiJson)
                .map_err(|e| {
                    let (field, problem) = classify(&e.path().to_string(), &e.inner().to_string());
                    ApiError(Failure::BadJson {
                        field,
                        problem,
                        detail: e.inner().to_string(),
                    })
                    .into()
                })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Contact {
        email: Option<String>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        queue: i64,
        subject: String,
        contact: Option<Contact>,
        tags: Option<Vec<String>>,
        urgent: Option<bool>,
        kind: Option<Kind>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Kind {
        Reply,
        Note,
    }

    fn problem(json: &str) -> (String, JsonProblem) {
        let v: serde_json::Value = serde_json::from_str(json).unwrap();
        let e = serde_path_to_error::deserialize::<_, Body>(v).unwrap_err();
        classify(&e.path().to_string(), &e.inner().to_string())
    }

    #[test]
    fn every_refusal_names_its_field_and_problem() {
        assert_eq!(
            problem(r#"{"subject":"x"}"#),
            ("queue".into(), JsonProblem::Missing)
        );
        assert_eq!(
            problem(r#"{"queue":"kundtjanst","subject":"x"}"#),
            (
                "queue".into(),
                JsonProblem::WrongType {
                    expected: Expected::Integer
                }
            )
        );
        assert_eq!(
            problem(r#"{"queue":1,"subject":"x","contact":{"email":5}}"#),
            (
                "contact.email".into(),
                JsonProblem::WrongType {
                    expected: Expected::Text
                }
            )
        );
        assert_eq!(
            problem(r#"{"queue":1,"subject":"x","contact":{"mail":"a@b.se"}}"#),
            ("contact.mail".into(), JsonProblem::UnknownField)
        );
        assert_eq!(
            problem(r#"{"queue":1,"subject":"x","tags":["a",3]}"#),
            (
                "tags[1]".into(),
                JsonProblem::WrongType {
                    expected: Expected::Text
                }
            )
        );
        assert_eq!(
            problem(r#"{"queue":1,"subject":"x","urgent":"ja"}"#),
            (
                "urgent".into(),
                JsonProblem::WrongType {
                    expected: Expected::Boolean
                }
            )
        );
        let (field, p) = problem(r#"{"queue":1,"subject":"x","kind":"mail"}"#);
        assert_eq!(field, "kind");
        assert_eq!(
            p,
            JsonProblem::NotOneOf {
                value: "mail".into(),
                allowed: "reply, note".into()
            }
        );
        assert_eq!(
            problem(r#"{"queue":1,"subject":"x","extra":1}"#),
            ("extra".into(), JsonProblem::UnknownField)
        );
    }
}
