//! `eidgw demo`'s desks against a gateway started here, driven as a browser would: the portal
//! logs a citizen in through the gateway's pages and shows the ID token's claims; the boarding
//! gate accepts a presentation once and says in words why a second one is refused. The demo
//! refuses a gateway that is not a sandbox, and its credentials are the published sandbox ones.

use reqwest::StatusCode;
use serde_json::Value;
use sha2::Digest;

use crate::citizen::Citizen;
use crate::helpers::*;
use crate::oidc::{Browser, location, sign_in};

pub async fn demo_for(app: &TestApp) -> String {
    // The portal's registered redirect URI is on 127.0.0.1:8090; a test cannot own that port,
    // so the demo listens anywhere and says it is at 8090, and the test follows its redirects
    // to where it really is.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    demo_on(app, listener, Some("http://127.0.0.1:8090".into())).await
}

/// The demo on `listener`, announcing `public_url` (default: where it listens).
pub async fn demo_on(
    app: &TestApp,
    listener: std::net::TcpListener,
    public_url: Option<String>,
) -> String {
    let credentials =
        eid_gateway::demo::Credentials::load(&repo().join("config/sandbox/demo.toml")).unwrap();
    let gateway = eid_gateway::demo::Gateway::connect(&app.address, credentials)
        .await
        .unwrap();
    let people =
        eid_gateway::demo::People::load(&app.services.settings.store.data_dir.join("people.jsonl"))
            .unwrap();
    let listen = eid_gateway::demo::Listen {
        listener,
        public_url,
    };
    let (server, port) = eid_gateway::demo::serve(gateway, listen, Some(people))
        .await
        .unwrap();
    tokio::spawn(server);
    format!("http://127.0.0.1:{port}")
}

fn text_of(html: &str, marker: &str) -> String {
    let at = html
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker} in {html}"));
    let start = at + html[at..].find('>').unwrap() + 1;
    html[start..start + html[start..].find('<').unwrap()].to_owned()
}

#[tokio::test]
async fn the_portal_desk_logs_a_citizen_in_through_the_gateway_and_out_again() {
    let app = spawn_app(Backend::Embedded).await;
    let demo = demo_for(&app).await;
    let citizen = Citizen::nth(&app, 0);
    citizen.register(&app).await;

    let mut b = Browser::new(&app);
    let home = b
        .get(&format!("{demo}/portal/"))
        .await
        .text()
        .await
        .unwrap();
    assert!(home.contains("Đăng nhập bằng VNeID"), "{home}");
    let start = b.get(&format!("{demo}/portal/login")).await;
    let authorize = location(&start);
    assert!(authorize.starts_with(&format!("{}/oauth2/authorize?", app.address)));
    assert!(authorize.contains("code_challenge_method=S256"));
    // The gateway's pages, then back to the portal's (announced) callback.
    let first = b.get(&authorize).await;
    assert_eq!(
        first.status(),
        StatusCode::SEE_OTHER,
        "{}",
        first.text().await.unwrap()
    );
    let back = sign_in(&mut b, &citizen, &authorize).await;
    assert!(
        back.starts_with("http://127.0.0.1:8090/portal/callback?"),
        "{back}"
    );
    let callback = back.replace("http://127.0.0.1:8090", &demo);
    let page = b.get(&callback).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("data-signed-in"), "{html}");
    assert_eq!(text_of(&html, "data-claim=\"acr\""), "urn:vn:eid:level:1");
    assert!(text_of(&html, "data-claim=\"amr\"").contains("otp"));
    assert_eq!(text_of(&html, "data-claim=\"auth_level\""), "2");
    assert_eq!(
        text_of(&html, "data-claim=\"name\""),
        citizen.truth.person.full_name
    );
    let sub = text_of(&html, "data-claim=\"sub\"");
    assert_eq!(
        sub.len(),
        43,
        "a pairwise subject, not the ID number: {sub}"
    );
    assert!(
        !html.contains(citizen.id()),
        "never the ID number: not asked for"
    );
    // The same code and state again: the login is used up.
    let again = b.get(&callback).await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    // A callback this browser did not start is refused.
    let mut stranger = Browser::new(&app);
    let forged = stranger.get(&callback).await;
    assert_eq!(forged.status(), StatusCode::BAD_REQUEST);
    // Logout goes to the gateway with the ID token, and comes back to the portal.
    let at = html.find("data-logout").unwrap();
    let href_at = html[..at].rfind("href=\"").unwrap() + 6;
    let href = html[href_at..href_at + html[href_at..].find('"').unwrap()]
        .replace("&amp;", "&")
        .replace("&#38;", "&");
    assert!(
        href.starts_with(&format!("{}/oauth2/logout?", app.address)),
        "{href}"
    );
    let res = b.get(&href).await;
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "{href}: {}",
        res.text().await.unwrap()
    );
    assert_eq!(location(&res), "http://127.0.0.1:8090/portal/");
}

#[tokio::test]
async fn the_boarding_gate_accepts_a_passenger_once_and_says_why_not_twice() {
    let app = spawn_app(Backend::Embedded).await;
    let demo = demo_for(&app).await;
    let client = reqwest::Client::new();
    let desk = client.get(format!("{demo}/gate/")).send().await.unwrap();
    let cookie = desk.headers()["set-cookie"].to_str().unwrap().to_owned();
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let html = desk.text().await.unwrap();
    let nonce = text_of(&html, "data-nonce");
    let csrf = crate::oidc::csrf(&html);

    let personas: Vec<Value> = app.get("/dev/personas").await.json().await.unwrap();
    let level2 = personas.iter().find(|p| p["role"] == "level-2").unwrap();
    let token = crate::personas::present_as_persona(&app, level2, "vietsky-air", &nonce).await;
    let board = |token: String, csrf: String, nonce: String| {
        let client = client.clone();
        let url = format!("{demo}/gate/verify");
        let cookie = cookie.clone();
        async move {
            client
                .post(url)
                .header("cookie", cookie)
                .header("accept-language", "vi")
                .form(&[("token", token), ("nonce", nonce), ("csrf_token", csrf)])
                .send()
                .await
                .unwrap()
        }
    };
    let first = board(token.clone(), csrf.clone(), nonce.clone()).await;
    assert_eq!(first.status(), StatusCode::OK);
    let html = first.text().await.unwrap();
    assert!(html.contains("data-verdict=\"accepted\""), "{html}");
    assert!(html.contains("Chấp nhận lên máy bay"));
    assert!(html.contains(level2["full_name"].as_str().unwrap()));

    let second = board(token.clone(), csrf.clone(), nonce.clone()).await;
    let html = second.text().await.unwrap();
    assert!(html.contains("data-verdict=\"refused\""), "{html}");
    let catalogue: Value = app.get("/v1/messages?lang=vi").await.json().await.unwrap();
    let words = catalogue["messages"]["verify"]["replayed"]
        .as_str()
        .unwrap();
    assert_eq!(text_of(&html, "data-reason-text"), words);
    assert_eq!(text_of(&html, "data-reason>"), "replayed");

    // Without the desk's form token the gate does nothing.
    let forged = board(token, "not-the-token".into(), nonce).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_demo_runs_only_against_a_sandbox_with_the_published_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let settings = crate::http_basics::production_settings(dir.path());
    let production = spawn_with(settings, dir).await;
    let credentials =
        eid_gateway::demo::Credentials::load(&repo().join("config/sandbox/demo.toml")).unwrap();
    let refused = eid_gateway::demo::Gateway::connect(&production.address, credentials).await;
    let err = refused
        .err()
        .expect("a production gateway is refused")
        .to_string();
    assert!(err.contains("not a sandbox"), "{err}");

    // The demo's credentials are the sandbox clients' registered ones.
    let credentials =
        eid_gateway::demo::Credentials::load(&repo().join("config/sandbox/demo.toml")).unwrap();
    let registered = std::fs::read_to_string(repo().join("config/relying_parties.toml")).unwrap();
    let mut desks = 0;
    for client in credentials.clients() {
        desks += 1;
        if let Some(key) = credentials.private_key(client) {
            assert!(repo().join(key).is_file(), "{client}: {}", key.display());
            continue;
        }
        use secrecy::ExposeSecret;
        let secret = credentials
            .secret(client)
            .unwrap()
            .expose_secret()
            .to_owned();
        assert_eq!(secret, sandbox_secret(client), "{client}");
        let digest = hex::encode(sha2::Sha256::digest(secret.as_bytes()));
        assert!(
            registered.contains(&digest),
            "{client}: its secret is registered"
        );
    }
    assert_eq!(desks, 5);
    // The police desk's officer is the sandbox one of config/dev.toml, which production lacks.
    use secrecy::ExposeSecret;
    let officer = credentials.operator().expect("the demo names its officer");
    let digest = hex::encode(sha2::Sha256::digest(
        officer.secret.expose_secret().as_bytes(),
    ));
    let dev = std::fs::read_to_string(repo().join("config/dev.toml")).unwrap();
    assert!(dev.contains(&digest), "the officer's secret is the dev one");
    let production_config =
        std::fs::read_to_string(repo().join("config/production.toml")).unwrap_or_default();
    assert!(!production_config.contains(&digest));
}

#[tokio::test]
async fn the_phone_reaches_the_citizen_api_only_and_plays_a_body_from_the_people_file() {
    let app = spawn_app(Backend::Embedded).await;
    let demo = demo_for(&app).await;
    let http = reqwest::Client::new();
    // The relay is the app's: relying-party, operator and dev endpoints are not behind it.
    for path in [
        "verify",
        "operator/cards",
        "citizen/../operator/cards",
        "citizen/%2e%2e/operator/cards",
        "match",
        "clients/me",
    ] {
        let res = http
            .post(format!("{demo}/phone/gateway/{path}"))
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(
            res.headers()["content-type"],
            "application/problem+json",
            "{path}"
        );
    }
    // What the gateway answers passes through unchanged (here: no session).
    let res = http
        .get(format!("{demo}/phone/gateway/citizen/history"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = http
        .put(format!("{demo}/phone/gateway/citizen/history"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);

    // The camera: the holder's true face plus noise — close to the registry's, not equal.
    let citizen = Citizen::nth(&app, 0);
    let camera = |id: &str, subject: &'static str| {
        let http = http.clone();
        let demo = demo.clone();
        let id = id.to_owned();
        async move {
            http.post(format!("{demo}/phone/camera"))
                .json(&serde_json::json!({ "personal_id": id, "subject": subject }))
                .send()
                .await
                .unwrap()
        }
    };
    let capture = |subject: &'static str| camera(citizen.id(), subject);
    let face = |res: Value| {
        eid_gateway::biometrics::Template::from_base64(res["template"].as_str().unwrap()).unwrap()
    };
    let own = face(capture("holder").await.json().await.unwrap());
    let again = face(capture("holder").await.json().await.unwrap());
    assert_ne!(own.to_base64(), again.to_base64(), "sensor noise");
    let threshold = app.services.settings.biometrics.face_threshold;
    assert!(own.similarity(&citizen.truth.face) >= threshold);
    for other in ["stranger", "someone_else"] {
        let t = face(capture(other).await.json().await.unwrap());
        assert!(t.similarity(&citizen.truth.face) < threshold, "{other}");
    }
    assert_eq!(capture("mask").await.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        camera("000000000000", "holder").await.status(),
        StatusCode::NOT_FOUND
    );
    let res = http
        .post(format!("{demo}/phone/police-desk"))
        .json(&serde_json::json!({ "personal_id": "12345" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);

    // No desk's secret reaches the phone's page or script.
    let page = http.get(format!("{demo}/phone/")).send().await.unwrap();
    assert!(
        page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("script-src 'self'")
    );
    let page = page.text().await.unwrap();
    let script = get_text(&http, &format!("{demo}/phone/phone.js")).await;
    for client in [
        "vietsky-air",
        "public-services-portal",
        "hanoi-general-hospital",
    ] {
        let secret = sandbox_secret(client);
        assert!(
            !page.contains(secret) && !script.contains(secret),
            "{client}"
        );
    }
    assert!(
        !page.contains("2ihdeO14") && !script.contains("2ihdeO14"),
        "the officer's secret"
    );
}

/// A desk's CSRF cookie and the form token of its page.
async fn desk_form(client: &reqwest::Client, url: &str) -> (String, String) {
    let desk = client.get(url).send().await.unwrap();
    let cookie = desk.headers()["set-cookie"].to_str().unwrap().to_owned();
    let cookie = cookie.split(';').next().unwrap().to_owned();
    (cookie, crate::oidc::csrf(&desk.text().await.unwrap()))
}

fn attribute(html: &str, marker: &str, name: &str) -> String {
    let at = html
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker} in {html}"));
    let tag_start = html[..at].rfind('<').unwrap();
    let tag = &html[tag_start..at + html[at..].find('>').unwrap()];
    let v = tag.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
    tag[v..v + tag[v..].find('"').unwrap()].replace("&#x2f;", "/")
}

#[tokio::test]
async fn the_hospital_desk_checks_a_patient_in_through_the_phone() {
    let app = spawn_app(Backend::Embedded).await;
    let demo = demo_for(&app).await;
    let patient = crate::ciba::level2_citizen(&app, 0).await;
    let client = reqwest::Client::new();
    let (cookie, csrf) = desk_form(&client, &format!("{demo}/hospital/")).await;
    let post = |path: &'static str, form: Vec<(&'static str, String)>| {
        let client = client.clone();
        let url = format!("{demo}{path}");
        let cookie = cookie.clone();
        async move {
            client
                .post(url)
                .header("cookie", cookie)
                .header("accept-language", "vi")
                .form(&form)
                .send()
                .await
                .unwrap()
        }
    };
    let ask = |id: String| {
        post(
            "/hospital/ask",
            vec![("personal_id", id), ("csrf_token", csrf.clone())],
        )
    };
    let short = ask(patient.id()[..11].to_owned()).await;
    assert_eq!(short.status(), StatusCode::BAD_REQUEST);
    assert!(short.text().await.unwrap().contains("12 chữ số"));
    // Without the desk's form token nothing is asked of the gateway.
    let forged = post(
        "/hospital/ask",
        vec![
            ("personal_id", patient.id().to_owned()),
            ("csrf_token", "forged".into()),
        ],
    )
    .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert!(crate::ciba::pending(&app, &patient).await.is_empty());
    // A QR that is no login hint is refused here; one the gateway does not know, in its words.
    let by_hint = |token: &str| {
        post(
            "/hospital/ask",
            vec![
                ("login_hint_token", token.to_owned()),
                ("csrf_token", csrf.clone()),
            ],
        )
    };
    let junk = by_hint("<script>alert(1)</script>").await;
    assert_eq!(junk.status(), StatusCode::BAD_REQUEST);
    assert!(!junk.text().await.unwrap().contains("<script>alert"));
    let unknown = by_hint("bm90LWEtcmVhbC1oaW50").await.text().await.unwrap();
    let catalogue: Value = app.get("/v1/messages?lang=vi").await.json().await.unwrap();
    assert_eq!(
        text_of(&unknown, "data-desk-error"),
        catalogue["messages"]["oauth"]["unknown_user_id"]
            .as_str()
            .unwrap()
    );
    // The kiosk: a card answer for no reading of this desk, and one that is not JSON.
    let reading = post("/hospital/kiosk", vec![("csrf_token", csrf.clone())])
        .await
        .text()
        .await
        .unwrap();
    let handle = attribute(&reading, "name=\"handle\"", "value");
    let card = |handle: String, read: &str| {
        post(
            "/hospital/kiosk/card",
            vec![
                ("csrf_token", csrf.clone()),
                ("handle", handle),
                ("chip_read", read.to_owned()),
            ],
        )
    };
    let not_json = card(handle.clone(), "not json").await.text().await.unwrap();
    assert_eq!(text_of(&not_json, "data-reason>"), "malformed");
    let gone = card(handle, "{}").await.text().await.unwrap();
    assert_eq!(
        text_of(&gone, "data-reason>"),
        "unknown",
        "one answer per reading"
    );
    let forged = post("/hospital/kiosk", vec![("csrf_token", "forged".into())]).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);

    // The patient's own login hint names them as the ID number does.
    let hint = Citizen::post(
        &app,
        "/v1/citizen/login-hint",
        &serde_json::json!({}),
        patient.session.as_deref(),
    )
    .await
    .json::<Value>()
    .await
    .unwrap();
    let html = by_hint(hint["login_hint_token"].as_str().unwrap())
        .await
        .text()
        .await
        .unwrap();
    let hinted = text_of(&html, "data-binding-message");
    let requests = crate::ciba::pending(&app, &patient).await;
    assert!(
        requests
            .iter()
            .any(|r| r["binding_message"] == hinted.as_str()),
        "{requests:?}"
    );

    let asked = ask(patient.id().to_owned()).await;
    assert_eq!(asked.status(), StatusCode::OK);
    let html = asked.text().await.unwrap();
    let binding = text_of(&html, "data-binding-message");
    assert!(binding.starts_with("Quầy 3 · "), "{binding}");
    let wait = attribute(&html, "data-wait>", "href");
    assert!(!html.contains("auth_req_id"));
    // Not approved yet: the desk keeps waiting.
    let still = client.get(format!("{demo}{wait}")).send().await.unwrap();
    assert!(still.text().await.unwrap().contains("data-waiting"));

    // The phone shows the desk's binding message and approves with the passcode.
    let requests = crate::ciba::pending(&app, &patient).await;
    let request = requests
        .iter()
        .find(|r| r["binding_message"] == binding.as_str())
        .expect("the phone shows the desk's binding message");
    let res = crate::ciba::answer(
        &app,
        &patient,
        request["request_id"].as_str().unwrap(),
        serde_json::json!({ "answer": "approve", "passcode": patient.passcode }),
    )
    .await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
    // The desk polls no faster than the gateway's interval (5 s, on both clocks).
    app.clock.advance(std::time::Duration::from_secs(5));
    tokio::time::sleep(std::time::Duration::from_millis(5_100)).await;
    let done = client.get(format!("{demo}{wait}")).send().await.unwrap();
    let html = done.text().await.unwrap();
    assert_eq!(
        text_of(&html, "data-patient-name"),
        patient.truth.person.full_name,
        "{html}"
    );
    assert_eq!(
        text_of(&html, "data-health-insurance"),
        patient.truth.person.health_insurance_number.as_str()
    );
    // Collected once: the handle is gone.
    let again = client.get(format!("{demo}{wait}")).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::NOT_FOUND);

    // A patient who denies: the desk says so in the catalogue's words.
    let html = ask(patient.id().to_owned()).await.text().await.unwrap();
    let binding = text_of(&html, "data-binding-message");
    let wait = attribute(&html, "data-wait>", "href");
    let requests = crate::ciba::pending(&app, &patient).await;
    let request = requests
        .iter()
        .find(|r| r["binding_message"] == binding.as_str())
        .unwrap();
    crate::ciba::answer(
        &app,
        &patient,
        request["request_id"].as_str().unwrap(),
        serde_json::json!({ "answer": "deny" }),
    )
    .await;
    let html = client
        .get(format!("{demo}{wait}"))
        .header("accept-language", "vi")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let catalogue: Value = app.get("/v1/messages?lang=vi").await.json().await.unwrap();
    let words = catalogue["messages"]["oauth"]["access_denied"]
        .as_str()
        .unwrap();
    assert_eq!(text_of(&html, "data-desk-error"), words, "{html}");
}
