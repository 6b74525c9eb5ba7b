//! What citizens read: every page in Vietnamese unless the person asks for English (`?lang=en`,
//! remembered in a cookie, or the browser's `Accept-Language`), codes only in a "details" line
//! for support, the signed-in account named on the consent page, and a front page.

use reqwest::StatusCode;
use serde_json::Value;

use super::*;

fn html_lang(html: &str) -> &str {
    let at = html.find("<html lang=\"").expect("an html lang attribute") + 12;
    &html[at..at + html[at..].find('"').unwrap()]
}

/// The page without its support details: what a citizen reads.
fn outside_details(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(start) = rest.find("<details class=\"support\"") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("</details>").expect("a closed details") + start + 10;
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

async fn get_with_language(app: &TestApp, path: &str, accept: &str) -> String {
    let res = app
        .client
        .get(app.url(path))
        .header("accept-language", accept)
        .send()
        .await
        .unwrap();
    res.text().await.unwrap()
}

#[tokio::test]
async fn pages_speak_vietnamese_unless_asked_and_remember_the_choice() {
    let app = spawn_app(Backend::Embedded).await;
    let mut b = Browser::new(&app);
    let res = b.get("/").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-language"], "vi");
    let html = res.text().await.unwrap();
    assert_eq!(html_lang(&html), "vi");
    assert!(html.contains("Cổng xác thực định danh điện tử"), "{html}");
    assert!(html.contains("href=\"/?lang=en\""), "a switch to English");

    let res = b.get("/?lang=en").await;
    assert_eq!(res.headers()["content-language"], "en");
    assert!(
        b.set_cookie_lines
            .iter()
            .any(|l| l.starts_with("eid_lang=en;") && l.contains("HttpOnly")),
        "{:?}",
        b.set_cookie_lines
    );
    assert_eq!(html_lang(&res.text().await.unwrap()), "en");
    // Remembered: the next page without `?lang=` is English, the login pages too.
    assert_eq!(html_lang(&b.get("/").await.text().await.unwrap()), "en");
    let page = location(&b.get(&at_portal(&pkce(), &[])).await);
    let login = b.get(&page).await.text().await.unwrap();
    assert_eq!(html_lang(&login), "en");
    assert!(login.contains("ID number"), "{login}");
    // …and the remembered choice beats the browser's.
    let remembered = app
        .client
        .get(app.url("/"))
        .header("cookie", "eid_lang=en")
        .header("accept-language", "vi")
        .send()
        .await
        .unwrap();
    assert_eq!(html_lang(&remembered.text().await.unwrap()), "en");

    // The browser's preference, q-values respected; a language we do not speak is passed over.
    for (accept, expected) in [
        ("en-GB,en;q=0.9", "en"),
        ("fr-FR, en;q=0.5, vi;q=0.4", "en"),
        ("fr, vi;q=0.5, en;q=0.4", "vi"),
        ("fr", "vi"),
        ("*", "vi"),
        ("not a header;;q=x", "vi"),
    ] {
        let html = get_with_language(&app, "/", accept).await;
        assert_eq!(html_lang(&html), expected, "{accept}");
    }
    // An unknown `?lang=` is ignored, not remembered.
    let mut c = Browser::new(&app);
    let html = c.get("/?lang=xx").await.text().await.unwrap();
    assert_eq!(html_lang(&html), "vi");
    assert!(!c.cookies.contains_key("eid_lang"));
}

#[tokio::test]
async fn error_pages_tell_citizens_why_in_words_and_keep_the_code_for_support() {
    let app = spawn_app(Backend::Embedded).await;
    let cases = [
        ("/oauth2/authorize?client_id=nobody", "invalid_client"),
        (
            "/oauth2/interaction/no-such-interaction",
            "interaction_gone",
        ),
        (
            "/oauth2/authorize?client_id=public-services-portal&redirect_uri=http%3A%2F%2Fevil.test%2F",
            "invalid_request",
        ),
    ];
    for (path, code) in cases {
        for (accept, lang) in [("vi", "vi"), ("en", "en")] {
            let res = app
                .client
                .get(app.url(path))
                .header("accept-language", accept)
                .send()
                .await
                .unwrap();
            assert!(res.status().is_client_error(), "{path}: {}", res.status());
            let html = res.text().await.unwrap();
            assert_eq!(html_lang(&html), lang, "{path}");
            assert!(
                html.contains(&format!("<code data-code>{code}</code>")),
                "{path}: the code stays for support: {html}"
            );
            let citizen_reads = outside_details(&html);
            for raw in [
                "invalid_client",
                "interaction_gone",
                "invalid_request",
                "redirect_uri",
            ] {
                assert!(
                    !citizen_reads.contains(raw),
                    "{path} ({lang}): `{raw}` on the citizen's screen: {citizen_reads}"
                );
            }
            let message = eid_gateway::i18n::catalogue::message(
                eid_gateway::i18n::Lang::parse(lang).unwrap(),
                "oauth",
                code,
            );
            assert!(citizen_reads.contains(message.as_ref()), "{path}: {html}");
        }
    }
}

#[tokio::test]
async fn the_consent_page_names_the_account_and_only_a_standing_consent_can_be_withdrawn() {
    let app = spawn_app(Backend::Embedded).await;
    let citizen = crate::citizen::Citizen::nth(&app, 0);
    citizen.register(&app).await;
    let mut b = Browser::new(&app);
    sign_in(&mut b, &citizen, &at_portal(&pkce(), &[])).await;
    let consent = b.consent_page.clone().expect("a consent page");
    let id = citizen.id();
    let masked = format!("{}******{}", &id[..3], &id[9..]);
    assert!(consent.contains("data-signed-in"), "{consent}");
    assert!(
        consent.contains(&format!("<span data-account-id>{masked}</span>")),
        "{consent}"
    );
    assert!(
        consent.contains(&format!(
            "<strong data-account-name>{}</strong>",
            citizen.truth.person.full_name
        )),
        "{consent}"
    );
    assert!(!consent.contains(id), "never the whole ID number");
    assert!(consent.contains("data-withdraw-note"));
    assert!(!consent.contains("data-one-off-note"));
}

#[tokio::test]
async fn the_login_page_offers_the_app_on_a_phone_and_the_qr_on_a_desk() {
    let app = spawn_app(Backend::Embedded).await;
    let mut b = Browser::new(&app);
    let page = location(&b.get(&at_portal(&pkce(), &[])).await);
    let html = b.get(&page).await.text().await.unwrap();
    let link_at = html.find("data-open-app").expect("an open-in-the-app link");
    let tag = &html[html[..link_at].rfind('<').unwrap()..link_at];
    assert!(tag.contains("href=\"eid-login:"), "{tag}");
    assert!(html.contains("class=\"on-desk\"") && html.contains("<svg"));
    // The code a person can type is shown once, wrapped (the stylesheet breaks it anywhere).
    assert!(html.contains("data-qr-text"));
    let css = app.get("/static/eid.css").await.text().await.unwrap();
    assert!(css.contains("@media (max-width: 600px)"));
    assert!(css.contains(".qr .on-desk { display: none; }"));
}

#[tokio::test]
async fn the_front_page_links_the_documents_and_shows_personas_only_in_the_sandbox() {
    let app = spawn_app(Backend::Embedded).await;
    let html = app.get("/").await.text().await.unwrap();
    for link in [
        "href=\"/docs/\"",
        "href=\"/.well-known/openid-configuration\"",
        "href=\"/.well-known/jwks.json\"",
        "href=\"/v1/messages?lang=vi\"",
    ] {
        assert!(html.contains(link), "{link}");
    }
    let personas: Vec<Value> = app.get("/dev/personas").await.json().await.unwrap();
    let level2 = personas.iter().find(|p| p["role"] == "level-2").unwrap();
    assert!(html.contains("data-personas"));
    assert!(html.contains(level2["personal_id"].as_str().unwrap()));
    assert!(html.contains(level2["full_name"].as_str().unwrap()));
    assert!(html.contains(eid_gateway::identity::sandbox::PASSWORD));
    // The persona descriptions are in the page's language too.
    assert!(html.contains("tài khoản mức 2 với thẻ thật"), "{html}");

    let dir = tempfile::tempdir().unwrap();
    let settings = crate::http_basics::production_settings(dir.path());
    let production = spawn_with(settings, dir).await;
    let res = production.get("/").await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(html.contains("href=\"/.well-known/openid-configuration\""));
    assert!(!html.contains("data-personas"));
    assert!(!html.contains("data-sandbox"));
    assert!(!html.contains(eid_gateway::identity::sandbox::PASSWORD));
}

#[tokio::test]
async fn relying_parties_get_a_message_for_every_code_in_both_languages() {
    let app = spawn_app(Backend::Embedded).await;
    let vi: Value = app.get("/v1/messages?lang=vi").await.json().await.unwrap();
    let res = app.get("/v1/messages?lang=en-GB").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["cache-control"]
            .to_str()
            .unwrap()
            .starts_with("public")
    );
    assert_eq!(res.headers()["content-language"], "en");
    let en: Value = res.json().await.unwrap();
    assert_eq!(vi["lang"], "vi");
    assert_eq!(en["lang"], "en");
    let families: Vec<&str> = vi["messages"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        families,
        ["biometric", "chip", "match", "oauth", "problem", "verify"]
    );
    let mut count = 0;
    for (family, codes) in vi["messages"].as_object().unwrap() {
        for (code, text) in codes.as_object().unwrap() {
            let english = &en["messages"][family][code];
            assert!(english.is_string(), "{family}.{code}: no English");
            assert_ne!(text, english, "{family}.{code}: not translated");
            assert!(
                !text.as_str().unwrap().contains(code.as_str()),
                "{family}.{code}"
            );
            count += 1;
        }
    }
    assert!(count > 100, "{count}");
    // Codes the gateway really answers with are there, with the words a citizen needs.
    assert!(vi["messages"]["verify"]["replayed"].as_str().unwrap().len() > 10);
    assert!(en["messages"]["chip"]["aa_failed"].is_string());
    assert!(en["messages"]["oauth"]["invalid_grant"].is_string());

    // Without `lang`, the request's Accept-Language decides; without that, Vietnamese.
    let by_header: Value = app
        .client
        .get(app.url("/v1/messages"))
        .header("accept-language", "en-US,en;q=0.9")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(by_header["lang"], "en");
    let default: Value = app.get("/v1/messages").await.json().await.unwrap();
    assert_eq!(default["lang"], "vi");

    for bad in ["fr", "", "vi%00", "english"] {
        let res = app.get(&format!("/v1/messages?lang={bad}")).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(
            res.headers()["content-type"],
            "application/problem+json",
            "{bad}"
        );
        let problem: Value = res.json().await.unwrap();
        assert_eq!(problem["code"], "invalid_lang", "{bad}");
    }
}

#[tokio::test]
async fn an_english_visitor_reads_english_amounts_and_errors() {
    let app = spawn_app(Backend::Embedded).await;
    let citizen = crate::citizen::Citizen::nth(&app, 0);
    citizen.register(&app).await;
    let mut b = Browser::new(&app);
    b.cookies.insert("eid_lang".into(), "en".into());
    let page = location(&b.get(&at_portal(&pkce(), &[])).await);
    let html = b.get(&page).await.text().await.unwrap();
    b.post(
        &format!("{page}/login"),
        &[
            ("csrf_token", &csrf(&html)),
            ("personal_id", citizen.id()),
            ("password", "not the password"),
        ],
    )
    .await;
    let html = b.get(&page).await.text().await.unwrap();
    assert!(
        html.contains(r#"data-error="invalid_credentials""#),
        "{html}"
    );
    assert!(html.contains("Wrong ID number or password"), "{html}");
    assert!(!outside_details(&html).contains(">invalid_credentials<"));
}
