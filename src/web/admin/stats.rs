//! `/admin/stats`: whether statistics per agent are shown ("Statistik per handläggare"), off by
//! default, with why: monitoring of individual employees is agreed with the unions first (MBL,
//! samverkan). Admins change it; queue leads see the setting.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::Deserialize;
use serde_json::json;

use super::{fail, page, see_other};
use crate::web::AppState;
use crate::web::auth::{CsrfForm, HasCsrf, PageActor};
use crate::web::errors::PageError;

#[get("/admin/stats")]
pub async fn show(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
) -> Result<HttpResponse, PageError> {
    let on = crate::stats::per_agent(&st.db, &actor)
        .await
        .map_err(fail(&actor, &req))?;
    page(
        &req,
        &actor,
        StatusCode::OK,
        "stats",
        "admin/stats",
        json!({ "per_agent": on }),
    )
}

#[derive(Deserialize)]
pub struct PerAgentForm {
    csrf: String,
    /// Present ("1") when the box is ticked.
    #[serde(default)]
    per_agent: Option<String>,
}

impl HasCsrf for PerAgentForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

#[post("/admin/stats")]
pub async fn save(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    CsrfForm(form): CsrfForm<PerAgentForm>,
) -> Result<HttpResponse, PageError> {
    let on = form.per_agent.is_some_and(|v| v == "1");
    crate::stats::set_per_agent(&st.db, &actor, on)
        .await
        .map_err(fail(&actor, &req))?;
    Ok(see_other("/admin/stats?ok=stats_saved".into()))
}
