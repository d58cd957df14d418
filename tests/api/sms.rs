//! Text messages to citizens through an SMS gateway of the common Swedish REST shape, played by a
//! local HTTP server: form-encoded from/to/message with basic auth, a delivery report back.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use arendo::notify::sms::GatewayInput;
use arendo::secrets::Keys;

use crate::both_backends;
use crate::helpers::{Backend, TestApp, csrf_in};

pub type Sent = Arc<Mutex<Vec<(Option<String>, Vec<(String, String)>)>>>;

async fn gateway_send(
    req: HttpRequest,
    form: web::Form<Vec<(String, String)>>,
    sent: web::Data<Sent>,
) -> HttpResponse {
    let auth = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut s = sent.lock().unwrap();
    s.push((auth, form.into_inner()));
    HttpResponse::Ok()
        .json(serde_json::json!({ "id": format!("s{}", s.len()), "status": "created" }))
}

pub fn start_gateway() -> (String, Sent) {
    let sent: Sent = Arc::default();
    let data = web::Data::new(sent.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/a1/sms", web::post().to(gateway_send))
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let port = server.addrs()[0].port();
    tokio::spawn(server.run());
    (format!("http://127.0.0.1:{port}/a1/sms"), sent)
}

pub fn field<'a>(form: &'a [(String, String)], name: &str) -> &'a str {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

async fn a_text_with_swedish_letters_goes_as_ucs2_and_its_delivery_is_reported(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("ARENDO_OUTBOX__RETRY_BASE_MS", "200")]).await;
    let org = app.org("alby").await;
    let (url, sent) = start_gateway();
    let keys = Keys::from_hex(&app.key_hex).unwrap();
    app.db
        .write(move |c| -> Result<(), arendo::error::Error> {
            let t = arendo::tenants::tenant_by_slug(c, "alby")?.id;
            arendo::notify::sms::save_gateway(
                c,
                &keys,
                t,
                &GatewayInput {
                    provider: "rest".into(),
                    url: Some(url),
                    username: Some("u123".into()),
                    password: Some("hemligt".into()),
                    sender: "AlbyKommun".into(),
                    nordic_gsm7: false,
                    price_ore: 45,
                    body_template: String::new(),
                    content_type: "application/json".into(),
                    id_pointer: "/id".into(),
                },
            )
        })
        .await
        .unwrap();
    let number = app
        .create_ticket_from(&org.agent_a.token, serde_json::json!({
            "queue": org.queue_a,
            "subject": "Fråga om hämtning",
            "body": "Kan ni sms:a mig när bilen kommer?",
            "contact": { "name": "Åsa Öberg", "phone": "070-123 45 67", "preferred_channel": "sms" }
        }))
        .await;
    let agent = app.browser();
    app.login(&agent, "alby", &org.agent_a.email, &org.agent_a.password)
        .await;
    let html = agent
        .get(app.url(&format!("/tickets/{number}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("id=\"sms-h\""),
        "the contact has a phone: the SMS form is there"
    );
    let csrf = csrf_in(&html);
    // 75 characters with å, ä, ö: UCS-2, so two parts (70 fit in one).
    let text = "Hej Åsa! Sopbilen kommer på tisdag förmiddag. Ställ kärlet vid vägen, tack.";
    assert_eq!(text.chars().count(), 75);

    let r = agent
        .post(app.url(&format!("/tickets/{number}/sms")))
        .form(&[
            ("csrf", csrf.as_str()),
            ("text", text),
            ("action", "preview"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let preview = r.text().await.unwrap();
    assert!(
        preview.contains("2 del(ar), UCS-2"),
        "the parts are shown before sending"
    );
    assert!(
        preview.contains("Sopbilen kommer på tisdag"),
        "the text is kept"
    );
    assert!(
        !sent
            .lock()
            .unwrap()
            .iter()
            .any(|(_, f)| field(f, "message") == text),
        "a preview sends nothing"
    );

    let r = agent
        .post(app.url(&format!("/tickets/{number}/sms")))
        .form(&[("csrf", csrf.as_str()), ("text", text), ("action", "send")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    // Åsa chose SMS: she is told by SMS that the ticket is registered, and gets this one. The
    // outbox does not order independent items (the receipt is rendered from a notification
    // first), so wait for both to reach the gateway.
    let is_receipt = |m: &str| m.contains("Vi har tagit emot ditt ärende");
    let mut mine = None;
    for _ in 0..100 {
        let got = sent.lock().unwrap().clone();
        mine = got.iter().position(|(_, f)| field(f, "message") == text);
        if mine.is_some() && got.iter().any(|(_, f)| is_receipt(field(f, "message"))) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mine = mine.expect("the agent's text reached the gateway");
    let gateway_id = format!("s{}", mine + 1);
    let received: Vec<String> = sent
        .lock()
        .unwrap()
        .iter()
        .map(|(_, f)| field(f, "message").to_string())
        .filter(|m| is_receipt(m))
        .collect();
    assert_eq!(received.len(), 1, "one SMS receipt: {received:?}");
    assert!(received[0].contains(&number) && received[0].contains("/status/"));
    let (auth, form) = sent.lock().unwrap()[mine].clone();
    use base64::Engine as _;
    let expected = base64::engine::general_purpose::STANDARD.encode("u123:hemligt");
    assert_eq!(auth.as_deref(), Some(format!("Basic {expected}").as_str()));
    assert_eq!(field(&form, "to"), "+46701234567");
    assert_eq!(field(&form, "from"), "AlbyKommun");
    assert_eq!(field(&form, "message"), text);
    let report = field(&form, "whendelivered").to_string();
    let path = &report[report.find("/sms/reports/").expect("a report address")..];

    // The gateway reports the delivery; an unknown address is refused.
    let client = reqwest::Client::new();
    let r = client
        .post(app.url("/sms/reports/fel-token"))
        .form(&[("id", "s1"), ("status", "delivered")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let mut html = String::new();
    for _ in 0..50 {
        let r = client
            .post(app.url(path))
            .form(&[("id", gateway_id.as_str()), ("status", "delivered")])
            .send()
            .await
            .unwrap();
        if r.status() == 204 {
            html = agent
                .get(app.url(&format!("/tickets/{number}")))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            break;
        }
        // The worker may not have stored the gateway's id yet.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        html.contains("Levererat (2 del(ar), UCS-2)"),
        "status on the ticket"
    );
    assert!(
        html.contains("Sms levererat till +46701234567"),
        "in the history"
    );

    // The internal bill for Kundtjänst.
    let admin = app.browser();
    app.login(&admin, "alby", &org.admin.email, &org.admin.password)
        .await;
    let month = chrono::Utc::now()
        .with_timezone(&chrono_tz::Europe::Stockholm)
        .format("%Y-%m")
        .to_string();
    let csv = admin
        .get(app.url(&format!("/admin/sms.csv?month={month}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // The agent's two parts and the receipt's (UCS-2 too: "ärende"; its link makes it long),
    // 45 öre a part.
    let receipt_parts = arendo::notify::sms_text::shape(&received[0], false).segments;
    assert!(
        receipt_parts >= 2,
        "the status link takes room: {}",
        received[0]
    );
    let parts = 2 + receipt_parts;
    let cost = parts * 45;
    assert!(
        csv.contains(&format!(
            "{month};Kundtjänst;2;{parts};{},{:02}",
            cost / 100,
            cost % 100
        )),
        "{csv}"
    );
    let page = admin.get(app.url("/admin/sms")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains(&format!("{},{:02}", cost / 100, cost % 100))
    );
    assert_eq!(
        agent
            .get(app.url("/admin/sms"))
            .send()
            .await
            .unwrap()
            .status(),
        403,
        "agents do not see the bill"
    );
}
both_backends!(a_text_with_swedish_letters_goes_as_ucs2_and_its_delivery_is_reported);

type JsonSent = Arc<Mutex<Vec<serde_json::Value>>>;

async fn json_gateway(
    body: web::Json<serde_json::Value>,
    sent: web::Data<JsonSent>,
) -> HttpResponse {
    let mut s = sent.lock().unwrap();
    s.push(body.into_inner());
    HttpResponse::Accepted()
        .json(serde_json::json!({ "data": { "messageId": format!("m-{}", s.len()) } }))
}

/// Any HTTP API: the body from a template, the message id by a JSON pointer.
async fn a_templated_http_gateway_gets_its_own_json(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("ARENDO_OUTBOX__RETRY_BASE_MS", "200")]).await;
    let org = app.org("alby").await;
    let sent: JsonSent = Arc::default();
    let data = web::Data::new(sent.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/v2/messages", web::post().to(json_gateway))
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let url = format!("http://127.0.0.1:{}/v2/messages", server.addrs()[0].port());
    tokio::spawn(server.run());
    let keys = Keys::from_hex(&app.key_hex).unwrap();
    app.db
        .write(move |c| -> Result<(), arendo::error::Error> {
            let t = arendo::tenants::tenant_by_slug(c, "alby")?.id;
            arendo::notify::sms::save_gateway(
                c,
                &keys,
                t,
                &GatewayInput {
                    provider: "http".into(),
                    url: Some(url),
                    username: None,
                    password: None,
                    sender: "Alby".into(),
                    nordic_gsm7: true,
                    price_ore: 30,
                    body_template: r#"{"sender": "{{from}}", "recipient": "{{to}}", "text": "{{message}}", "callback": "{{report_url}}"}"#.into(),
                    content_type: "application/json".into(),
                    id_pointer: "/data/messageId".into(),
                },
            )
        })
        .await
        .unwrap();
    let number = app
        .create_ticket_from(
            &org.agent_a.token,
            serde_json::json!({
                "queue": org.queue_a, "subject": "Fråga", "body": "Hej",
                "contact": { "name": "Per", "phone": "+46701112233", "email": "per@example.org" }
            }),
        )
        .await;
    let agent = app.browser();
    app.login(&agent, "alby", &org.agent_a.email, &org.agent_a.password)
        .await;
    let html = agent
        .get(app.url(&format!("/tickets/{number}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // Quotes and a line break must survive the JSON template.
    let text = "Hej Per! Svaret: \"ja\".\nMvh Alby";
    let r = agent
        .post(app.url(&format!("/tickets/{number}/sms")))
        .form(&[
            ("csrf", csrf_in(&html).as_str()),
            ("text", text),
            ("action", "send"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    for _ in 0..100 {
        if !sent.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let body = sent.lock().unwrap()[0].clone();
    assert_eq!(body["text"], text);
    assert_eq!(body["recipient"], "+46701112233");
    assert_eq!(body["sender"], "Alby");
    let callback = body["callback"].as_str().unwrap();
    let path = &callback[callback.find("/sms/reports/").unwrap()..];
    let mut ok = false;
    for _ in 0..50 {
        let r = reqwest::Client::new()
            .post(app.url(path))
            .form(&[("id", "m-1"), ("status", "delivered")])
            .send()
            .await
            .unwrap();
        if r.status() == 204 {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ok, "the id from /data/messageId is the message's");
}
both_backends!(a_templated_http_gateway_gets_its_own_json);

/// An administrator sets the SMS gateway up on `/admin/sms/gateway`: the password is never shown
/// again and an empty field keeps it (the gateway still gets it), a bad sender is refused with the
/// rest kept, and the delivery-report address to give the provider is on the page.
async fn an_admin_sets_up_the_sms_gateway_on_the_admin_page(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("ARENDO_OUTBOX__RETRY_BASE_MS", "200")]).await;
    let org = app.org("alby").await;
    let (url, sent) = start_gateway();
    let admin = app.browser();
    app.login(&admin, "alby", &org.admin.email, &org.admin.password)
        .await;
    let page = |path: &str| {
        let (admin, url) = (admin.clone(), app.url(path));
        async move { admin.get(url).send().await.unwrap().text().await.unwrap() }
    };
    let html = page("/admin/sms/gateway").await;
    let csrf = csrf_in(&html);
    let save = |sender: &str, password: &str| {
        let form = vec![
            ("csrf", csrf.clone()),
            ("provider", "rest".to_string()),
            ("url", url.clone()),
            ("username", "u123".into()),
            ("password", password.to_string()),
            ("sender", sender.to_string()),
            ("price", "0,52".into()),
            ("body_template", String::new()),
            ("content_type", "application/json".into()),
            ("id_pointer", "/id".into()),
        ];
        let (admin, path) = (admin.clone(), app.url("/admin/sms/gateway"));
        async move {
            let r = admin.post(path).form(&form).send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let (status, html) = save("Alby kommun!", "hemligt").await;
    assert_eq!(status, 422);
    assert!(html.contains("Skriv 1–11 bokstäver"), "{html}");
    assert!(html.contains(&url) && !html.contains("hemligt"));
    assert_eq!(save("AlbyKommun", "hemligt").await.0, 303);
    let html = page("/admin/sms/gateway").await;
    assert!(!html.contains("hemligt"));
    assert!(html.contains("Ett värde är sparat"));
    assert!(html.contains("value=\"0,52\""));
    assert!(
        html.contains("/sms/reports/"),
        "the report address is shown"
    );
    assert_eq!(
        save("AlbyKommun", "").await.0,
        303,
        "empty keeps the password"
    );

    // A text through it carries the kept password.
    let number = app
        .create_ticket_from(
            &org.agent_a.token,
            serde_json::json!({
                "queue": org.queue_a, "subject": "Fråga", "body": "Ring mig",
                "contact": { "name": "Bo", "phone": "070-111 22 33", "preferred_channel": "sms" }
            }),
        )
        .await;
    let agent = app.browser();
    app.login(&agent, "alby", &org.agent_a.email, &org.agent_a.password)
        .await;
    let html = agent
        .get(app.url(&format!("/tickets/{number}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let r = agent
        .post(app.url(&format!("/tickets/{number}/sms")))
        .form(&[
            ("csrf", csrf_in(&html).as_str()),
            ("text", "Vi ringer dig i morgon."),
            ("action", "send"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let expected = format!(
        "Basic {}",
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "u123:hemligt")
    );
    assert!(
        app.eventually(|| sent
            .lock()
            .unwrap()
            .iter()
            .any(|(auth, form)| auth.as_deref() == Some(expected.as_str())
                && field(form, "message") == "Vi ringer dig i morgon."))
            .await,
        "the gateway got the text with the kept password: {:?}",
        sent.lock().unwrap()
    );

    let r = agent
        .get(app.url("/admin/sms/gateway"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}
both_backends!(an_admin_sets_up_the_sms_gateway_on_the_admin_page);
