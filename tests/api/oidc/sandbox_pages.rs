//! The sandbox login pages (dev mode only): a banner on every page, a persona picker that fills
//! in the ID and shows the published password, the whole phone number with a link to the SMS
//! outbox, and a cancel button on every step that returns `access_denied`. Production shows none
//! of it.

use reqwest::StatusCode;
use serde_json::Value;

use super::*;

const BANNER: &str = "data-sandbox";

fn input_value(html: &str, name: &str) -> String {
    let at = html
        .find(&format!("name=\"{name}\""))
        .unwrap_or_else(|| panic!("no {name} input"));
    let tag_end = at + html[at..].find('>').unwrap();
    let tag = &html[at..tag_end];
    let Some(v) = tag.find("value=\"") else {
        return String::new();
    };
    tag[v + 7..v + 7 + tag[v + 7..].find('"').unwrap()].to_owned()
}

fn attribute_after(html: &str, marker: &str, attribute: &str) -> String {
    let at = html.find(marker).unwrap_or_else(|| panic!("no {marker}"));
    let tag_start = html[..at].rfind('<').unwrap();
    let tag = &html[tag_start..at + html[at..].find('>').unwrap()];
    let v = tag.find(&format!("{attribute}=\"")).unwrap() + attribute.len() + 2;
    tag[v..v + tag[v..].find('"').unwrap()].replace("&amp;", "&")
}

#[tokio::test]
async fn a_persona_picked_on_the_login_page_signs_in_with_the_outbox_otp() {
    let app = spawn_app(Backend::Embedded).await;
    let personas: Vec<Value> = app.get("/dev/personas").await.json().await.unwrap();
    let level2 = personas.iter().find(|p| p["role"] == "level-2").unwrap();
    let mut b = Browser::new(&app);
    let p = pkce();
    let page_url = location(&b.get(&at_portal(&p, &[])).await);

    let html = b.get(&page_url).await.text().await.unwrap();
    assert!(html.contains(BANNER), "sandbox banner on the login page");
    assert!(html.contains("data-persona-picker"));
    for role in ["level-1", "level-2", "locked", "face-mismatch"] {
        assert!(html.contains(&format!("data-persona=\"{role}\"")), "{role}");
    }
    // Personas without a ready-made account (registration demos) are not offered for login.
    assert!(!html.contains("data-persona=\"adult\""));
    assert_eq!(input_value(&html, "personal_id"), "");
    assert!(!html.contains("data-persona-password"));

    let picked = attribute_after(&html, "data-persona=\"level-2\"", "href");
    let html = b.get(&picked).await.text().await.unwrap();
    assert_eq!(
        input_value(&html, "personal_id"),
        level2["personal_id"].as_str().unwrap()
    );
    assert!(html.contains(eid_gateway::identity::sandbox::PASSWORD));
    assert!(html.contains("data-persona-password"));

    // An unknown role picks nobody.
    let nobody = b.get(&format!("{page_url}?persona=nobody")).await;
    let nobody = nobody.text().await.unwrap();
    assert_eq!(input_value(&nobody, "personal_id"), "");
    assert!(!nobody.contains("data-persona-password"));

    let token = csrf(&html);
    let res = b
        .post(
            &format!("{page_url}/login"),
            &[
                ("csrf_token", &token),
                ("personal_id", level2["personal_id"].as_str().unwrap()),
                ("password", eid_gateway::identity::sandbox::PASSWORD),
            ],
        )
        .await;
    assert_eq!(location(&res), page_url);
    let html = b.get(&page_url).await.text().await.unwrap();
    assert!(html.contains("name=\"otp\""));
    assert!(html.contains(BANNER), "sandbox banner on the OTP page");
    let phone = level2["phone"].as_str().unwrap();
    assert!(
        html.contains(phone),
        "the whole sandbox phone number is shown"
    );
    let outbox = attribute_after(&html, "data-sms-outbox", "href");
    assert_eq!(outbox, format!("/dev/sms?phone={phone}"));
    let sms: Vec<Value> = app.get(&outbox).await.json().await.unwrap();
    let text = sms[0]["text"].as_str().unwrap();
    let otp = text
        .split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .unwrap();
    let res = b
        .post(
            &format!("{page_url}/otp"),
            &[("csrf_token", &csrf(&html)), ("otp", otp)],
        )
        .await;
    assert_eq!(location(&res), page_url);
    let html = b.get(&page_url).await.text().await.unwrap();
    assert!(html.contains("name=\"decision\""), "consent page");
    assert!(html.contains(BANNER), "sandbox banner on the consent page");
    let res = b
        .post(
            &format!("{page_url}/consent"),
            &[("csrf_token", &csrf(&html)), ("decision", "allow")],
        )
        .await;
    let back = location(&res);
    assert!(back.starts_with(CALLBACK), "{back}");
    let code = query_param(&back, "code").unwrap();
    let tokens = redeem(&app, &code, &p.verifier).await;
    assert_eq!(tokens.status(), StatusCode::OK);
}

async fn cancel(b: &mut Browser<'_>, page_url: &str, token: &str) -> reqwest::Response {
    b.post(&format!("{page_url}/cancel"), &[("csrf_token", token)])
        .await
}

fn assert_access_denied(back: &str) {
    assert!(back.starts_with(CALLBACK), "{back}");
    assert_eq!(
        query_param(back, "error").as_deref(),
        Some("access_denied"),
        "{back}"
    );
    assert_eq!(query_param(back, "state").as_deref(), Some("st-1"));
    assert_eq!(query_param(back, "code"), None);
    assert!(query_param(back, "iss").is_some(), "RFC 9207 iss: {back}");
}

#[tokio::test]
async fn cancel_on_the_login_and_otp_steps_returns_access_denied_and_ends_the_sign_in() {
    let app = spawn_app(Backend::Embedded).await;
    let citizen = crate::citizen::Citizen::nth(&app, 0);
    citizen.register(&app).await;

    // On the login page.
    let mut b = Browser::new(&app);
    let p = pkce();
    let page_url = location(&b.get(&at_portal(&p, &[])).await);
    let html = b.get(&page_url).await.text().await.unwrap();
    assert!(html.contains("data-cancel"));
    let token = csrf(&html);
    // A forged cancel (no valid CSRF token) changes nothing.
    let forged = cancel(&mut b, &page_url, "forged").await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert_eq!(b.get(&page_url).await.status(), StatusCode::OK);
    assert_access_denied(&location(&cancel(&mut b, &page_url, &token).await));
    let gone = b.get(&page_url).await;
    assert_eq!(gone.status(), StatusCode::BAD_REQUEST, "the sign-in ended");
    // Cancelling twice is not a second answer to the relying party.
    assert_eq!(
        cancel(&mut b, &page_url, &token).await.status(),
        StatusCode::BAD_REQUEST
    );

    // On the OTP page, after a correct password.
    let mut b = Browser::new(&app);
    let page_url = location(&b.get(&at_portal(&pkce(), &[])).await);
    let html = b.get(&page_url).await.text().await.unwrap();
    let res = b
        .post(
            &format!("{page_url}/login"),
            &[
                ("csrf_token", &csrf(&html)),
                ("personal_id", citizen.id()),
                ("password", &citizen.password),
            ],
        )
        .await;
    assert_eq!(location(&res), page_url);
    let html = b.get(&page_url).await.text().await.unwrap();
    assert!(html.contains("name=\"otp\"") && html.contains("data-cancel"));
    assert_access_denied(&location(&cancel(&mut b, &page_url, &csrf(&html)).await));
    // Another browser cannot cancel someone's sign-in.
    let mut other = Browser::new(&app);
    let page_url = location(&other.get(&at_portal(&pkce(), &[])).await);
    let html = other.get(&page_url).await.text().await.unwrap();
    let mut stranger = Browser::new(&app);
    let res = cancel(&mut stranger, &page_url, &csrf(&html)).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(other.get(&page_url).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn production_pages_have_no_banner_and_no_persona_picker() {
    let dir = tempfile::tempdir().unwrap();
    let settings = crate::http_basics::production_settings(dir.path());
    let app = spawn_with(settings, dir).await;
    let mut b = Browser::new(&app);
    let page_url = location(&b.get(&at_portal(&pkce(), &[])).await);
    let html = b
        .get(&format!("{page_url}?persona=level-2"))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("name=\"password\""), "the login page");
    assert!(!html.contains(BANNER));
    assert!(!html.contains("data-persona"));
    assert!(!html.contains(eid_gateway::identity::sandbox::PASSWORD));
    assert_eq!(input_value(&html, "personal_id"), "");
    // The cancel button is not a sandbox helper: it stays.
    assert!(html.contains("data-cancel"));
    let message = app.get("/oauth2/authorize?client_id=nobody").await;
    assert_eq!(message.status(), StatusCode::BAD_REQUEST);
    assert!(!message.text().await.unwrap().contains(BANNER));
}

#[tokio::test]
async fn the_sandbox_banner_is_on_message_and_logout_pages() {
    let app = spawn_app(Backend::Embedded).await;
    let message = app.get("/oauth2/authorize?client_id=nobody").await;
    assert!(message.text().await.unwrap().contains(BANNER));
    let (_citizen, _) = logged_in_at_portal(&app, 0).await;
    let mut b = Browser::new(&app);
    let citizen = crate::citizen::Citizen::nth(&app, 1);
    citizen.register(&app).await;
    sign_in(&mut b, &citizen, &at_portal(&pkce(), &[])).await;
    let logout = b.get("/oauth2/logout").await;
    assert_eq!(logout.status(), StatusCode::OK);
    let html = logout.text().await.unwrap();
    assert!(
        html.contains("/oauth2/logout/confirm"),
        "the confirmation page"
    );
    assert!(html.contains(BANNER));
}
