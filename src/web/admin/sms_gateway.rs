//! `/admin/sms/gateway`: the municipality's SMS gateway — provider, address, account, sender
//! name, price per part — and the delivery-report address to give the provider. The password is
//! never shown; an empty field keeps the stored one. Administrators only.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::Deserialize;
use serde_json::json;

use super::{fail, invalid_field, page, refusal, see_other};
use crate::accounts::Actor;
use crate::domain::FormatKind;
use crate::domain::Reason;
use crate::notify::sms::{self, GatewayInput};
use crate::web::AppState;
use crate::web::auth::{CsrfForm, HasCsrf, PageActor};
use crate::web::errors::PageError;
use crate::web::pages::page_locale;

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct GatewayForm {
    csrf: String,
    provider: String,
    url: String,
    username: String,
    password: String,
    sender: String,
    nordic_gsm7: Option<String>,
    /// Kronor per part, e.g. "0,45".
    price: String,
    body_template: String,
    content_type: String,
    id_pointer: String,
}

impl HasCsrf for GatewayForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// "0,45" or "0.45" kronor → 45 öre.
fn parse_price(s: &str) -> Result<i32, crate::domain::InvalidValue> {
    let bad =
        || crate::domain::InvalidValue::new("price_ore", Reason::format(s, FormatKind::Price));
    let s = s.trim().replace(',', ".");
    if s.is_empty() {
        return Err(bad());
    }
    let (kr, ore) = s.split_once('.').unwrap_or((&s, "0"));
    if ore.len() > 2 || (kr.is_empty() && ore.is_empty()) {
        return Err(bad());
    }
    let kr: i32 = if kr.is_empty() {
        0
    } else {
        kr.parse().map_err(|_| bad())?
    };
    let ore: i32 = format!("{ore:0<2}").parse().map_err(|_| bad())?;
    kr.checked_mul(100)
        .and_then(|k| k.checked_add(ore))
        .ok_or_else(bad)
}

async fn form_page(
    req: &HttpRequest,
    st: &AppState,
    actor: &Actor,
    status: StatusCode,
    f: &GatewayForm,
    error: Option<(String, Option<&'static str>)>,
) -> Result<HttpResponse, PageError> {
    let current = sms::gateway_settings(&st.db, actor)
        .await
        .map_err(fail(actor, req))?;
    let (error, field) = match error {
        Some((m, f)) => (Some(m), f),
        None => (None, None),
    };
    page(
        req,
        actor,
        status,
        "sms",
        "admin/sms_gateway",
        json!({
            "form": {
                "url": f.url, "username": f.username, "sender": f.sender, "price": f.price,
                "nordic_gsm7": f.nordic_gsm7.is_some(), "body_template": f.body_template,
                "content_type": f.content_type, "id_pointer": f.id_pointer,
                "outbox": f.provider == "outbox", "rest": f.provider == "rest", "http": f.provider == "http",
            },
            "has_password": current.as_ref().is_some_and(|g| g.has_password),
            "report_url": current.as_ref().map(|g| sms::report_url(&st.settings.server.public_url, &g.report_token)),
            "error": error,
            "field": field,
        }),
    )
}

#[get("/admin/sms/gateway")]
pub async fn show(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
) -> Result<HttpResponse, PageError> {
    let g = sms::gateway_settings(&st.db, &actor)
        .await
        .map_err(fail(&actor, &req))?;
    let f = match g {
        Some(g) => GatewayForm {
            provider: g.provider,
            url: g.url.unwrap_or_default(),
            username: g.username.unwrap_or_default(),
            sender: g.sender,
            nordic_gsm7: g.nordic_gsm7.then(|| "1".into()),
            price: format!("{},{:02}", g.price_ore / 100, g.price_ore % 100),
            body_template: g.body_template,
            content_type: g.content_type,
            id_pointer: g.id_pointer,
            ..GatewayForm::default()
        },
        None => GatewayForm {
            provider: "outbox".into(),
            price: "0,45".into(),
            content_type: "application/json".into(),
            id_pointer: "/id".into(),
            ..GatewayForm::default()
        },
    };
    form_page(&req, &st, &actor, StatusCode::OK, &f, None).await
}

#[post("/admin/sms/gateway")]
pub async fn save(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    CsrfForm(f): CsrfForm<GatewayForm>,
) -> Result<HttpResponse, PageError> {
    let opt = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_string());
    let result = match parse_price(&f.price) {
        Ok(price_ore) => {
            let input = GatewayInput {
                provider: f.provider.clone(),
                url: opt(&f.url),
                username: opt(&f.username),
                password: (!f.password.is_empty()).then(|| f.password.clone()),
                sender: f.sender.clone(),
                nordic_gsm7: f.nordic_gsm7.is_some(),
                price_ore,
                body_template: f.body_template.clone(),
                content_type: opt(&f.content_type).unwrap_or_else(|| "application/json".into()),
                id_pointer: opt(&f.id_pointer).unwrap_or_else(|| "/id".into()),
            };
            let egress = crate::egress::Policy::from_settings(&st.settings);
            sms::save_gateway_settings(&st.db, &actor, st.keys.clone(), &egress, input).await
        }
        Err(e) => Err(e.into()),
    };
    match result {
        Ok(()) => Ok(see_other("/admin/sms/gateway?ok=gateway_saved".into())),
        Err(e) => {
            let field = invalid_field(&e);
            let r = refusal(page_locale(Some(&actor), &req), "gateway", e)
                .map_err(fail(&actor, &req))?;
            let mut kept = f;
            kept.password.clear();
            form_page(&req, &st, &actor, r.status, &kept, Some((r.message, field))).await
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn prices_are_kronor_with_a_comma_or_a_point() {
        assert_eq!(super::parse_price("0,45"), Ok(45));
        assert_eq!(super::parse_price("1.5"), Ok(150));
        assert_eq!(super::parse_price("2"), Ok(200));
        assert_eq!(super::parse_price(",35"), Ok(35));
        assert!(super::parse_price("0,455").is_err());
        assert!(super::parse_price("gratis").is_err());
        assert!(super::parse_price("").is_err());
    }
}
