//! Text messages to an SMS gateway: the protocols of the providers a municipality can pick —
//! `rest` (the common Swedish form POST), `http` (a body from the tenant's template) and
//! `outbox` (one JSON file per message, for demos) — behind the egress policy. What is sent,
//! to whom and when, and what a delivery report means, is `notify::sms`.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use crate::domain::TenantId;
use crate::egress::Policy;
use crate::outbox::DeliveryError;
use crate::secrets::Keys;
use crate::store;

/// What sending needs from the installation.
pub struct Gateway<'a> {
    pub keys: &'a Keys,
    pub egress: &'a Arc<Policy>,
    pub data_dir: &'a std::path::Path,
    pub public_url: &'a str,
}

impl Gateway<'_> {
    /// Hand one message to the tenant's gateway; the gateway's id for it.
    pub async fn send(
        &self,
        tenant: TenantId,
        g: &store::sms::Gateway,
        sms: &store::sms::Sms,
    ) -> Result<String, Sent> {
        match g.provider.as_str() {
            "outbox" => Ok(write_local(self.data_dir, tenant, sms, &g.sender)?),
            "rest" | "http" => send_rest(self.keys, self.egress, g, sms, self.public_url).await,
            other => Err(DeliveryError::Permanent(format!("unknown SMS provider {other}")).into()),
        }
    }
}

/// Where the gateway reports deliveries for `token`.
pub fn report_url(public_url: &str, token: &str) -> String {
    format!("{}/sms/reports/{token}", public_url.trim_end_matches('/'))
}

/// The demo provider: one JSON file per message in `<data_dir>/sms-outbox`.
fn write_local(
    data_dir: &std::path::Path,
    tenant: TenantId,
    sms: &store::sms::Sms,
    sender: &str,
) -> Result<String, DeliveryError> {
    let dir = data_dir.join("sms-outbox");
    store::private::create_dir(&dir).map_err(|e| DeliveryError::Retry(e.to_string()))?;
    let name = format!("{}-{}.json", tenant.get(), sms.id);
    let doc = json!({
        "from": sender, "to": sms.to_number, "message": sms.body,
        "encoding": sms.encoding, "segments": sms.segments,
    });
    store::private::write(&dir.join(&name), doc.to_string().as_bytes())
        .map_err(|e| DeliveryError::Retry(e.to_string()))?;
    Ok(format!("local-{}", sms.id))
}

/// Why a gateway did not take a message.
pub enum Sent {
    Failed(DeliveryError),
    Refused(crate::egress::Refused),
}

impl From<DeliveryError> for Sent {
    fn from(e: DeliveryError) -> Self {
        Sent::Failed(e)
    }
}

async fn send_rest(
    keys: &Keys,
    egress: &Arc<Policy>,
    g: &store::sms::Gateway,
    sms: &store::sms::Sms,
    public_url: &str,
) -> Result<String, Sent> {
    use secrecy::ExposeSecret;
    let url = g
        .url
        .as_deref()
        .ok_or_else(|| DeliveryError::Permanent("the gateway has no address".into()))?;
    let password = match &g.password {
        Some(sealed) => Some(
            keys.open(sealed)
                .map_err(|e| DeliveryError::Permanent(format!("stored password unreadable: {e}")))?
                .expose_secret()
                .to_string(),
        ),
        None => None,
    };
    let client = egress
        .http_client(Duration::from_secs(15))
        .map_err(|e| DeliveryError::Retry(e.to_string()))?;
    let post = |url: &str| {
        client.post(url).map_err(|e| match e {
            crate::egress::EgressError::Refused(r) => Sent::Refused(r),
            other => Sent::Failed(DeliveryError::Permanent(other.to_string())),
        })
    };
    let report = report_url(public_url, &g.report_token);
    let mut req = if g.provider == "http" {
        let data = json!({
            "from": g.sender, "to": sms.to_number, "message": sms.body, "report_url": report,
        });
        let body = crate::delivery::http::body_of(&g.body_template, &g.content_type, &data)
            .map_err(DeliveryError::Permanent)?;
        post(url)?
            .header(reqwest::header::CONTENT_TYPE, &g.content_type)
            .body(body)
    } else {
        post(url)?.form(&[
            ("from", g.sender.as_str()),
            ("to", sms.to_number.as_str()),
            ("message", sms.body.as_str()),
            ("whendelivered", report.as_str()),
        ])
    };
    if let Some(user) = &g.username {
        req = req.basic_auth(user, password);
    }
    let resp = req
        .send()
        .await
        .map_err(|e| match crate::egress::refusal_in(&e) {
            Some(r) => Sent::Refused(r),
            None => Sent::Failed(DeliveryError::Retry(format!(
                "cannot reach the SMS gateway: {e}"
            ))),
        })?;
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    let short = crate::egress::truncate(&text, crate::egress::MAX_ERROR_BODY);
    if status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 408 {
        return Err(DeliveryError::Retry(format!("HTTP {status}: {short}")).into());
    }
    if !status.is_success() {
        return Err(DeliveryError::Permanent(format!("HTTP {status}: {short}")).into());
    }
    let pointer = if g.provider == "http" {
        g.id_pointer.as_str()
    } else {
        "/id"
    };
    crate::delivery::http::case_number(&text, pointer).map_err(|e| {
        DeliveryError::Permanent(format!("the gateway answered without an id ({e}): {short}"))
            .into()
    })
}
