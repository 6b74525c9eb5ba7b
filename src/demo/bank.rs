//! The lotus-bank counter, authenticating with its own key (private_key_jwt):
//! - **account opening**: the customer's chip card on the counter's reader (the phone holding
//!   the card answers the reader's active-authentication challenge) and a live face from the
//!   counter's kiosk camera, signed by the kiosk's key, checked together by `POST /v1/chip/verify`;
//! - **transfers**: the amount and recipient go to the customer's phone (RFC 9396
//!   `authorization_details`); above 10.000.000 ₫ the bank's rule asks for a face on the phone,
//!   and the counter checks with `POST /v1/verify` that the token approved exactly this transfer.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use base64::Engine;
use ed25519_dalek::Signer;
use serde_json::{Value, json};

use super::State;
use super::gateway::GatewayError;
use super::pages::Page;
use crate::i18n::Texts;

pub const CLIENT_ID: &str = "lotus-bank";
const CSRF_COOKIE: &str = "demo_bank_csrf";
/// An account opening not finished in this time is dropped (the gateway's challenges expire
/// sooner).
const OPENING_TTL: Duration = Duration::from_secs(600);
const MAX_OPENINGS: usize = 1_000;

/// Account openings waiting for the card, by the counter's handle.
#[derive(Default)]
pub struct Desk {
    openings: Mutex<HashMap<String, Opening>>,
}

struct Opening {
    chip_challenge: String,
    liveness: Value,
    started: Instant,
}

#[derive(Template)]
#[template(path = "demo/bank.html")]
struct BankPage<'a> {
    t: Texts,
    switch: &'a str,
    csrf: String,
    /// Reading a card: the handle and the reader's challenge.
    reading: Option<(String, String)>,
    opened: Option<Opened>,
    /// A transfer waiting for the phone: nonce, amount, recipient, the amount in words.
    transfer: Option<(String, u64, String, String)>,
    approved: Option<Approved>,
    /// What went wrong, in words, and its code for the details line.
    refused: Option<(String, String)>,
}

struct Opened {
    name: String,
    checks: Vec<(String, bool)>,
    card_status: String,
}

struct Approved {
    transaction: String,
    amr: String,
    auth_level: String,
    name: String,
}

fn render(page: &Page, status: StatusCode, fill: impl FnOnce(&mut BankPage)) -> HttpResponse {
    let Ok(csrf) = super::random() else {
        return HttpResponse::ServiceUnavailable().finish();
    };
    let mut p = BankPage {
        t: page.t,
        switch: &page.switch,
        csrf: csrf.clone(),
        reading: None,
        opened: None,
        transfer: None,
        approved: None,
        refused: None,
    };
    fill(&mut p);
    let mut res = page.render(status, &p);
    let _ = res.add_cookie(&super::csrf_cookie(CSRF_COOKIE, "/bank/", csrf));
    res
}

fn refused(page: &Page, why: String, code: &str) -> HttpResponse {
    let code = code.to_owned();
    render(page, StatusCode::OK, |p| p.refused = Some((why, code)))
}

pub async fn desk(req: HttpRequest) -> HttpResponse {
    let page = Page::of(&req);
    render(&page, StatusCode::OK, |_| {})
}

#[derive(serde::Deserialize)]
pub struct Csrf {
    csrf_token: String,
}

/// The words for a gateway refusal: its catalogue message for the code.
async fn words(state: &State, t: Texts, family: &str, code: &str) -> String {
    state
        .gateway
        .message(t.lang, family, code)
        .await
        .unwrap_or_else(|| t.get("code.unknown").into_owned())
}

async fn refusal(state: &State, page: &Page, err: GatewayError) -> HttpResponse {
    match err {
        GatewayError::Refused { body, .. } => {
            let code = body["code"]
                .as_str()
                .unwrap_or("invalid_request")
                .to_owned();
            let why = words(state, page.t, "problem", &code).await;
            refused(page, why, &code)
        }
        err => {
            tracing::warn!(%err, "the bank counter cannot reach the gateway");
            refused(
                page,
                page.t.get("demo.gate.unreachable").into_owned(),
                "unreachable",
            )
        }
    }
}

/// A new account: the reader's challenge for the card and the kiosk camera's liveness challenge.
pub async fn open(state: State, req: HttpRequest, form: web::Form<Csrf>) -> HttpResponse {
    let page = Page::of(&req);
    if !super::csrf_ok(&req, CSRF_COOKIE, &form.csrf_token) {
        return HttpResponse::Forbidden().body(page.t.get("demo.gate.csrf").into_owned());
    }
    let chip = match state
        .gateway
        .post_json(CLIENT_ID, "/v1/chip/challenge", &json!({}))
        .await
    {
        Ok(c) => c,
        Err(e) => return refusal(&state, &page, e).await,
    };
    let liveness = match state
        .gateway
        .post_json(CLIENT_ID, "/v1/chip/liveness-challenge", &json!({}))
        .await
    {
        Ok(l) => l,
        Err(e) => return refusal(&state, &page, e).await,
    };
    let (Ok(handle), Some(challenge)) = (super::random(), chip["challenge_id"].as_str()) else {
        return refused(&page, page.t.get("demo.error").into_owned(), "unavailable");
    };
    let challenge = challenge.to_owned();
    if let Ok(mut all) = state.bank.openings.lock() {
        all.retain(|_, o| o.started.elapsed() < OPENING_TTL);
        if all.len() < MAX_OPENINGS {
            all.insert(
                handle.clone(),
                Opening {
                    chip_challenge: challenge.clone(),
                    liveness,
                    started: Instant::now(),
                },
            );
        }
    }
    render(&page, StatusCode::OK, |p| {
        p.reading = Some((handle, challenge))
    })
}

#[derive(serde::Deserialize)]
pub struct CardRead {
    csrf_token: String,
    handle: String,
    /// The chip's answer (JSON: data groups, SOD, active authentication).
    chip_read: String,
    /// Who stands in front of the kiosk camera: `holder` or `someone_else`.
    #[serde(default)]
    subject: Option<String>,
}

/// The personal id the card's DG13 states (checked by the gateway, not here).
fn stated_personal_id(read: &Value) -> Option<String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(read["dg13"].as_str()?)
        .ok()?;
    let dg13: Value = serde_json::from_slice(&bytes).ok()?;
    dg13["personal_id"].as_str().map(str::to_owned)
}

/// The card read and the kiosk's face, checked together by the chip API.
pub async fn finish_opening(
    state: State,
    req: HttpRequest,
    form: web::Form<CardRead>,
) -> HttpResponse {
    let page = Page::of(&req);
    let t = page.t;
    if !super::csrf_ok(&req, CSRF_COOKIE, &form.csrf_token) {
        return HttpResponse::Forbidden().body(t.get("demo.gate.csrf").into_owned());
    }
    let opening = state
        .bank
        .openings
        .lock()
        .ok()
        .and_then(|mut all| all.remove(&form.handle))
        .filter(|o| o.started.elapsed() < OPENING_TTL);
    let Some(opening) = opening else {
        return refused(&page, t.get("demo.bank.no_opening").into_owned(), "unknown");
    };
    let Ok(read) = serde_json::from_str::<Value>(&form.chip_read) else {
        return refused(
            &page,
            t.get("demo.bank.unreadable").into_owned(),
            "malformed",
        );
    };
    if read["active_authentication"]["challenge_id"] != opening.chip_challenge.as_str() {
        return refused(
            &page,
            t.get("demo.bank.other_reader").into_owned(),
            "wrong_challenge",
        );
    }
    // The kiosk camera films whoever stands at the counter: the card's holder, unless the
    // demo puts someone else there.
    let subject = form.subject.as_deref().unwrap_or("holder");
    let face = match (
        state.people.as_ref(),
        stated_personal_id(&read),
        state.gateway.kiosk_key(CLIENT_ID),
    ) {
        (Some(people), Some(id), Ok(kiosk)) => people
            .find(&id)
            .and_then(|holder| people.capture(holder, subject))
            .and_then(|template| kiosk_capture(&opening.liveness, &template, &kiosk)),
        _ => None,
    };
    let mut body = json!({ "chip_read": read });
    if let Some(f) = face {
        body["face_capture"] = f;
    }
    let answer = match state
        .gateway
        .post_json(CLIENT_ID, "/v1/chip/verify", &body)
        .await
    {
        Ok(a) => a,
        Err(e) => return refusal(&state, &page, e).await,
    };
    if answer["authentic"] != true {
        let code = answer["reason"]
            .as_str()
            .unwrap_or("not_authentic")
            .to_owned();
        let why = words(&state, t, "chip", &code).await;
        return refused(&page, why, &code);
    }
    let check = |name: &str| {
        answer["checks"][name]["ok"] == true || answer["checks"][name]["matched"] == true
    };
    let opened = Opened {
        name: answer["claims"]["full_name"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        checks: ["passive", "active", "face"]
            .iter()
            .filter(|c| !answer["checks"][**c].is_null())
            .map(|c| ((*c).to_owned(), check(c)))
            .collect(),
        card_status: answer["card_status"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    };
    render(&page, StatusCode::OK, |p| p.opened = Some(opened))
}

/// The kiosk camera's capture answering `challenge`, signed by the kiosk's key.
fn kiosk_capture(
    challenge: &Value,
    template: &crate::biometrics::Template,
    kiosk: &ed25519_dalek::SigningKey,
) -> Option<Value> {
    let actions: Vec<crate::biometrics::liveness::Action> =
        serde_json::from_value(challenge["actions"].clone()).ok()?;
    let encoded = template.to_base64();
    let nonce = challenge["nonce"].as_str()?;
    let signature = kiosk.sign(&crate::biometrics::liveness::signed_message(
        nonce, &encoded, &actions,
    ));
    Some(json!({
        "challenge_id": challenge["challenge_id"],
        "actions": actions,
        "template": encoded,
        "signature": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(signature.to_bytes()),
    }))
}

#[derive(serde::Deserialize)]
pub struct TransferAsk {
    csrf_token: String,
    amount_vnd: String,
    creditor: String,
}

/// The largest transfer the counter takes (the gateway refuses more as implausible).
const MAX_TRANSFER_VND: u64 = 1_000_000_000_000;

/// `amount` in whole đồng: digits, optionally grouped in threes by `.`, `,` or spaces.
fn transfer_of(amount: &str, creditor: &str) -> Option<(u64, String)> {
    let groups: Vec<&str> = amount.trim().split(['.', ',', ' ']).collect();
    let grouped = groups.iter().skip(1).all(|g| g.len() == 3)
        && groups
            .iter()
            .all(|g| !g.is_empty() && g.bytes().all(|b| b.is_ascii_digit()));
    if !grouped {
        return None;
    }
    let amount: u64 = groups
        .concat()
        .parse()
        .ok()
        .filter(|a| (1..=MAX_TRANSFER_VND).contains(a))?;
    let creditor = creditor.trim();
    (!creditor.is_empty() && creditor.chars().count() <= 140).then(|| (amount, creditor.to_owned()))
}

/// A transfer to approve: the phone gets the amount and the recipient with the counter's nonce.
pub async fn transfer(req: HttpRequest, form: web::Form<TransferAsk>) -> HttpResponse {
    let page = Page::of(&req);
    let t = page.t;
    if !super::csrf_ok(&req, CSRF_COOKIE, &form.csrf_token) {
        return HttpResponse::Forbidden().body(t.get("demo.gate.csrf").into_owned());
    }
    let Some((amount, creditor)) = transfer_of(&form.amount_vnd, &form.creditor) else {
        return refused(
            &page,
            t.get("demo.bank.bad_transfer").into_owned(),
            "invalid_request",
        );
    };
    let Ok(nonce) = super::random() else {
        return refused(&page, t.get("demo.error").into_owned(), "unavailable");
    };
    let nonce = format!("bank-{}", &nonce[..10]);
    let words = crate::i18n::format::amount_vnd(amount, t.lang);
    render(&page, StatusCode::OK, |p| {
        p.transfer = Some((nonce, amount, creditor, words))
    })
}

#[derive(serde::Deserialize)]
pub struct TransferToken {
    csrf_token: String,
    nonce: String,
    amount_vnd: u64,
    creditor: String,
    token: String,
}

/// The phone's token for the transfer: valid, and approving exactly this transfer.
pub async fn approve(
    state: State,
    req: HttpRequest,
    form: web::Form<TransferToken>,
) -> HttpResponse {
    let page = Page::of(&req);
    let t = page.t;
    if !super::csrf_ok(&req, CSRF_COOKIE, &form.csrf_token) {
        return HttpResponse::Forbidden().body(t.get("demo.gate.csrf").into_owned());
    }
    let transaction = json!([{
        "type": crate::identity::transactions::BANK_TRANSFER,
        "amount_vnd": form.amount_vnd,
        "creditor": form.creditor,
    }]);
    let answer = state
        .gateway
        .verify(
            CLIENT_ID,
            form.token.trim(),
            &form.nonce,
            Some(&transaction),
        )
        .await;
    match answer {
        Ok(a) if a["valid"] == true => {
            let approved = Approved {
                transaction: format!(
                    "{} → {}",
                    crate::i18n::format::amount_vnd(
                        a["authorization_details"][0]["amount_vnd"]
                            .as_u64()
                            .unwrap_or(0),
                        t.lang
                    ),
                    a["authorization_details"][0]["creditor"]
                        .as_str()
                        .unwrap_or_default()
                ),
                amr: a["amr"]
                    .as_array()
                    .map(|m| {
                        m.iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default(),
                auth_level: a["auth_level"].to_string(),
                name: a["claims"]["full_name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            };
            render(&page, StatusCode::OK, |p| p.approved = Some(approved))
        }
        Ok(a) => {
            let code = a["reason"].as_str().unwrap_or("invalid").to_owned();
            let why = words(&state, t, "verify", &code).await;
            refused(&page, why, &code)
        }
        Err(e) => refusal(&state, &page, e).await,
    }
}

#[cfg(test)]
mod tests {
    use super::transfer_of;

    #[test]
    fn a_transfer_is_a_whole_positive_amount_and_a_named_recipient() {
        assert_eq!(
            transfer_of("25.000.000", " Nguyễn Văn An "),
            Some((25_000_000, "Nguyễn Văn An".into()))
        );
        assert_eq!(
            transfer_of("25,000,000", "An"),
            Some((25_000_000, "An".into()))
        );
        for (amount, creditor) in [
            ("0", "An"),
            ("-5", "An"),
            ("12.5", "An"),
            ("1e9", "An"),
            ("1000000000001", "An"),
            ("1000", " "),
        ] {
            assert_eq!(transfer_of(amount, creditor), None, "{amount} {creditor}");
        }
    }
}
