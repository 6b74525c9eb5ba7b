//! The citizen-facing pages in a real browser at a desk size (1280×900) and a phone size
//! (390×844): Debian's `chromium` driven by `playwright-core` (`tests/browser/pages.mjs`, which
//! `scripts/test` installs with npm). Nothing may be wider than the screen; on a phone the QR
//! gives way to "open in the VNeID app"; the pages are Vietnamese unless the person asks.
//! Screenshots land in `target/screenshots/pages/`.

use std::path::PathBuf;

use serde_json::Value;

use crate::helpers::*;
use crate::oidc::{CALLBACK, PORTAL, at_portal, pkce};

pub fn browser_tests() -> PathBuf {
    let dir = repo().join("tests/browser");
    assert!(
        dir.join("node_modules/playwright-core").is_dir(),
        "playwright-core is not installed: run scripts/test (or `npm ci` in {})",
        dir.display()
    );
    dir
}

pub fn chromium() -> String {
    let path = std::env::var("EIDGW_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&path).exists(),
        "no chromium at {path}: run scripts/test, which installs Debian's chromium"
    );
    path
}

#[tokio::test]
async fn every_page_fits_a_phone_and_a_desk_in_vietnamese_first() {
    let app = spawn_app(Backend::Embedded).await;
    let personas: Vec<Value> = app.get("/dev/personas").await.json().await.unwrap();
    let level2 = personas.iter().find(|p| p["role"] == "level-2").unwrap();
    let shots = repo().join("target/screenshots/pages");
    let demo = crate::demo::demo_for(&app).await;
    let mut cmd = std::process::Command::new("node");
    cmd.arg(browser_tests().join("pages.mjs"))
        .env("GATEWAY", app.services.issuer())
        .env("AUTHORIZE", at_portal(&pkce(), &[]))
        .env("PERSONAL_ID", level2["personal_id"].as_str().unwrap())
        .env("PASSWORD", eid_gateway::identity::sandbox::PASSWORD)
        .env("PHONE", level2["phone"].as_str().unwrap())
        .env(
            "LOGOUT",
            format!(
                "/oauth2/logout?client_id={PORTAL}&post_logout_redirect_uri={}",
                form_urlencoded::byte_serialize(CALLBACK.replace("/callback", "/").as_bytes())
                    .collect::<String>()
            ),
        )
        .env("SCREENSHOTS", &shots)
        .env("DEMO", &demo)
        .env("CHROMIUM", chromium());
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "the browser run failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    for size in ["desk", "phone"] {
        let pages = report[size].as_object().unwrap();
        assert_eq!(pages.len(), 10, "{size}: {pages:?}");
        for (name, seen) in pages {
            let context = format!("{name} at {size}: {}", seen["text"]);
            let expected = if name == "home_en" { "en" } else { "vi" };
            assert_eq!(seen["lang"], expected, "{context}");
            assert!(
                seen["scroll_width"].as_i64() <= seen["width"].as_i64(),
                "{context}: the page is wider than the screen"
            );
            assert_eq!(
                seen["overflowing"],
                serde_json::json!([]),
                "{context}: elements pass the screen's edge"
            );
            let text = seen["text"].as_str().unwrap();
            for raw in ["invalid_client", "invalid_request", "interaction_gone"] {
                assert!(!text.contains(raw), "{context}: a raw code on screen");
            }
        }
        let login = &report[size]["login"];
        let on_phone = size == "phone";
        assert_eq!(login["qr_visible"], !on_phone, "{size}: the QR");
        assert_eq!(login["app_link_visible"], on_phone, "{size}: the app link");
        assert!(
            login["app_link"]
                .as_str()
                .unwrap()
                .starts_with("eid-login:")
        );
        let consent = report[size]["consent"]["text"].as_str().unwrap();
        assert!(
            consent.contains(level2["full_name"].as_str().unwrap()),
            "{consent}"
        );
    }
    for name in [
        "home",
        "login",
        "otp",
        "consent",
        "error",
        "logout",
        "demo-index",
        "demo-portal",
        "demo-gate",
    ] {
        for size in ["desk", "phone"] {
            assert!(shots.join(format!("{name}-{size}.png")).is_file());
        }
    }
}
