//! The hanoi-general-hospital check-in desk: the patient gives their ID number, the desk asks
//! the gateway for a kiosk login (OpenID CIBA, poll mode) with a binding message shown on the
//! desk's screen, the patient approves on their phone, and the desk collects the ID token: the
//! patient's name and health-insurance number. The patient is named by their ID number or by
//! the one-time login hint their phone shows as a QR code (`login_hint_token`), which the desk
//! scans (or receives from a phone tab of the same browser). The desk's kiosk also checks a chip
//! card and the face in front of its camera through the chip API, as the bank counter does.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::State;
use super::gateway::GatewayError;
use super::kiosk;
use super::pages::Page;
use crate::i18n::Texts;

pub const CLIENT_ID: &str = "hanoi-general-hospital";
const SCOPE: &str = "openid profile health_insurance";

/// A kiosk request the desk is waiting on, by the desk's own handle (the `auth_req_id` never
/// leaves the demo process).
pub struct Waiting {
    auth_req_id: String,
    binding_message: String,
    interval: Duration,
    last_poll: Option<Instant>,
    started: Instant,
}

#[derive(Default)]
pub struct Desk {
    waiting: Mutex<HashMap<String, Waiting>>,
    /// The kiosk's card reader.
    reader: kiosk::Reader,
}

const CSRF_COOKIE: &str = "demo_hospital_csrf";
/// A login hint token is the gateway's random text; anything longer is not one.
const MAX_LOGIN_HINT_TOKEN: usize = 200;

/// Requests older than this are dropped (the gateway's default expiry is 120 s).
const WAIT_TTL: Duration = Duration::from_secs(900);

#[derive(Template)]
#[template(path = "demo/hospital.html")]
struct HospitalPage<'a> {
    t: Texts,
    switch: &'a str,
    csrf: String,
    /// The kiosk reading a card: where the reader's form goes, and the reading.
    reader_action: &'static str,
    reading: Option<kiosk::Reading>,
    checked: Option<kiosk::Checked>,
    refused: Option<kiosk::Refused>,
    /// Waiting on the phone: the binding message and where to look again.
    waiting: Option<(String, String)>,
    patient: Option<Patient>,
    error: Option<String>,
}

struct Patient {
    name: String,
    health_insurance_number: String,
    birth_date: String,
    acr: String,
}

fn page_with(
    page: &Page,
    status: StatusCode,
    fill: impl FnOnce(&mut HospitalPage),
) -> HttpResponse {
    let Ok(csrf) = super::random() else {
        return HttpResponse::ServiceUnavailable().finish();
    };
    let mut p = HospitalPage {
        t: page.t,
        switch: &page.switch,
        csrf: csrf.clone(),
        reader_action: "/hospital/kiosk/card",
        reading: None,
        checked: None,
        refused: None,
        waiting: None,
        patient: None,
        error: None,
    };
    fill(&mut p);
    let mut res = page.render(status, &p);
    let _ = res.add_cookie(&super::csrf_cookie(CSRF_COOKIE, "/hospital/", csrf));
    res
}

fn forbidden(page: &Page) -> HttpResponse {
    HttpResponse::Forbidden().body(page.t.get("demo.gate.csrf").into_owned())
}

pub async fn desk(req: HttpRequest) -> HttpResponse {
    let page = Page::of(&req);
    page_with(&page, StatusCode::OK, |_| {})
}

#[derive(serde::Deserialize)]
pub struct Ask {
    csrf_token: String,
    /// The patient's ID number, typed at the desk…
    #[serde(default)]
    personal_id: String,
    /// …or the login hint their phone shows.
    #[serde(default)]
    login_hint_token: String,
}

/// Who the kiosk request names: `login_hint` (12 digits) or `login_hint_token`.
fn hint_of(form: &Ask) -> Result<(&'static str, &str), &'static str> {
    let token = form.login_hint_token.trim();
    if !token.is_empty() {
        let plausible = token.len() <= MAX_LOGIN_HINT_TOKEN
            && token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.~".contains(&b));
        return if plausible {
            Ok(("login_hint_token", token))
        } else {
            Err("demo.hospital.bad_hint")
        };
    }
    let id = form.personal_id.trim();
    if id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()) {
        Ok(("login_hint", id))
    } else {
        Err("demo.hospital.twelve_digits")
    }
}

/// The words for an OAuth error code, from the gateway's catalogue.
async fn words(state: &State, t: Texts, code: &str) -> String {
    state
        .gateway
        .message(t.lang, "oauth", code)
        .await
        .unwrap_or_else(|| t.get("code.unknown").into_owned())
}

pub async fn ask(state: State, req: HttpRequest, form: web::Form<Ask>) -> HttpResponse {
    let page = Page::of(&req);
    let t = page.t;
    if !super::csrf_ok(&req, CSRF_COOKIE, &form.csrf_token) {
        return forbidden(&page);
    }
    let (hint, value) = match hint_of(&form) {
        Ok(h) => h,
        Err(key) => {
            let why = t.get(key).into_owned();
            return page_with(&page, StatusCode::BAD_REQUEST, |p| p.error = Some(why));
        }
    };
    let mut pin = [0u8; 2];
    let (Ok(handle), Ok(())) = (super::random(), getrandom::fill(&mut pin)) else {
        return page_with(&page, StatusCode::SERVICE_UNAVAILABLE, |p| {
            p.error = Some(t.get("demo.error").into_owned())
        });
    };
    // Four digits the patient compares between the desk's screen and the phone.
    let digits = u16::from_be_bytes(pin) % 10_000;
    let binding = format!("{} · {digits:04}", t.get("demo.hospital.counter"));
    let answer = state
        .gateway
        .backchannel(
            CLIENT_ID,
            &[
                ("scope", SCOPE),
                (hint, value),
                ("binding_message", &binding),
                ("acr_values", "urn:vn:eid:level:2"),
            ],
        )
        .await;
    match answer {
        Ok(a) => {
            let waiting = Waiting {
                auth_req_id: a["auth_req_id"].as_str().unwrap_or_default().to_owned(),
                binding_message: binding.clone(),
                interval: Duration::from_secs(a["interval"].as_u64().unwrap_or(5)),
                last_poll: None,
                started: Instant::now(),
            };
            if let Ok(mut all) = state.hospital.waiting.lock() {
                all.retain(|_, w| w.started.elapsed() < WAIT_TTL);
                all.insert(handle.clone(), waiting);
            }
            page_with(&page, StatusCode::OK, |p| {
                p.waiting = Some((binding, format!("/hospital/wait/{handle}")))
            })
        }
        Err(GatewayError::Refused { body, .. }) => {
            let code = body["error"]
                .as_str()
                .unwrap_or("invalid_request")
                .to_owned();
            let why = words(&state, t, &code).await;
            page_with(&page, StatusCode::OK, |p| p.error = Some(why))
        }
        Err(err) => {
            tracing::warn!(%err, "the hospital desk cannot ask");
            let why = t.get("demo.gate.unreachable").into_owned();
            page_with(&page, StatusCode::BAD_GATEWAY, |p| p.error = Some(why))
        }
    }
}

/// The desk looks again: at most one poll per interval the gateway asked for.
pub async fn wait(state: State, req: HttpRequest, handle: web::Path<String>) -> HttpResponse {
    let page = Page::of(&req);
    let t = page.t;
    let due = {
        let Ok(mut all) = state.hospital.waiting.lock() else {
            return page_with(&page, StatusCode::SERVICE_UNAVAILABLE, |_| {});
        };
        let Some(w) = all.get_mut(handle.as_str()) else {
            let why = t.get("demo.hospital.unknown").into_owned();
            return page_with(&page, StatusCode::NOT_FOUND, |p| p.error = Some(why));
        };
        let due = w.last_poll.is_none_or(|at| at.elapsed() >= w.interval);
        if due {
            w.last_poll = Some(Instant::now());
        }
        (due, w.auth_req_id.clone(), w.binding_message.clone())
    };
    let (due, auth_req_id, binding) = due;
    let again = format!("/hospital/wait/{handle}");
    if !due {
        return page_with(&page, StatusCode::OK, |p| {
            p.waiting = Some((binding, again))
        });
    }
    let tokens = state
        .gateway
        .token(
            CLIENT_ID,
            &[
                ("grant_type", "urn:openid:params:grant-type:ciba"),
                ("auth_req_id", &auth_req_id),
            ],
        )
        .await;
    let done = |state: &State| {
        if let Ok(mut all) = state.hospital.waiting.lock() {
            all.remove(handle.as_str());
        }
    };
    match tokens {
        Ok(tokens) => {
            done(&state);
            let id_token = tokens["id_token"].as_str().unwrap_or_default();
            match state
                .gateway
                .validate_id_token(id_token, CLIENT_ID, None)
                .await
            {
                Ok(c) => {
                    let text = |k: &str| c[k].as_str().unwrap_or_default().to_owned();
                    let patient = Patient {
                        name: text("name"),
                        health_insurance_number: text("health_insurance_number"),
                        birth_date: text("birthdate"),
                        acr: text("acr"),
                    };
                    page_with(&page, StatusCode::OK, |p| p.patient = Some(patient))
                }
                Err(err) => {
                    tracing::warn!(%err, "the hospital desk refused an ID token");
                    let why = t.get("demo.error").into_owned();
                    page_with(&page, StatusCode::BAD_GATEWAY, |p| p.error = Some(why))
                }
            }
        }
        Err(GatewayError::Refused { body, .. })
            if matches!(
                body["error"].as_str(),
                Some("authorization_pending" | "slow_down")
            ) =>
        {
            if body["error"] == "slow_down"
                && let Ok(mut all) = state.hospital.waiting.lock()
                && let Some(w) = all.get_mut(handle.as_str())
            {
                w.interval += Duration::from_secs(5);
            }
            page_with(&page, StatusCode::OK, |p| {
                p.waiting = Some((binding, again))
            })
        }
        Err(GatewayError::Refused { body, .. }) => {
            done(&state);
            let code = body["error"].as_str().unwrap_or("invalid_grant").to_owned();
            let why = words(&state, t, &code).await;
            page_with(&page, StatusCode::OK, |p| p.error = Some(why))
        }
        Err(err) => {
            tracing::warn!(%err, "the hospital desk cannot poll");
            let why = t.get("demo.gate.unreachable").into_owned();
            page_with(&page, StatusCode::BAD_GATEWAY, |p| {
                p.error = Some(why);
                p.waiting = Some((binding, again));
            })
        }
    }
}

/// The kiosk starts reading a card: the reader's challenge and the camera's.
pub async fn kiosk(state: State, req: HttpRequest, form: web::Form<Csrf>) -> HttpResponse {
    let page = Page::of(&req);
    if !super::csrf_ok(&req, CSRF_COOKIE, &form.csrf_token) {
        return forbidden(&page);
    }
    match state.hospital.reader.start(&state, page.t, CLIENT_ID).await {
        Ok(r) => page_with(&page, StatusCode::OK, |p| p.reading = Some(r)),
        Err(r) => page_with(&page, StatusCode::OK, |p| p.refused = Some(r)),
    }
}

#[derive(serde::Deserialize)]
pub struct Csrf {
    csrf_token: String,
}

/// The card's answer and the kiosk camera's face, checked together by the chip API.
pub async fn kiosk_card(
    state: State,
    req: HttpRequest,
    form: web::Form<kiosk::CardRead>,
) -> HttpResponse {
    let page = Page::of(&req);
    if !super::csrf_ok(&req, CSRF_COOKIE, &form.csrf_token) {
        return forbidden(&page);
    }
    let checked = state
        .hospital
        .reader
        .finish(&state, page.t, CLIENT_ID, &form)
        .await;
    match checked {
        Ok(c) => page_with(&page, StatusCode::OK, |p| p.checked = Some(c)),
        Err(r) => page_with(&page, StatusCode::OK, |p| p.refused = Some(r)),
    }
}

#[cfg(test)]
mod tests {
    use super::{Ask, hint_of};

    fn ask(personal_id: &str, login_hint_token: &str) -> Ask {
        Ask {
            csrf_token: String::new(),
            personal_id: personal_id.into(),
            login_hint_token: login_hint_token.into(),
        }
    }

    #[test]
    fn a_patient_is_named_by_twelve_digits_or_a_plausible_login_hint() {
        assert_eq!(
            hint_of(&ask(" 001200000001 ", "")),
            Ok(("login_hint", "001200000001"))
        );
        assert_eq!(
            hint_of(&ask("", " Zm9v-bar_baz ")),
            Ok(("login_hint_token", "Zm9v-bar_baz"))
        );
        // The QR wins over a typed number: the phone's hint names the patient exactly.
        assert_eq!(
            hint_of(&ask("001200000001", "abc")),
            Ok(("login_hint_token", "abc"))
        );
        for (id, token) in [
            ("", ""),
            ("12345", ""),
            ("00120000000a", ""),
            ("", "a b"),
            ("", "<script>"),
            ("", &"a".repeat(201)),
        ] {
            assert!(hint_of(&ask(id, token)).is_err(), "{id:?} {token:?}");
        }
    }
}
