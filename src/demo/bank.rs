//! The lotus-bank counter, authenticating with its own key (private_key_jwt):
//! - **account opening**: the customer's chip card on the counter's reader (the phone holding
//!   the card answers the reader's active-authentication challenge) and a live face from the
//!   counter's kiosk camera, signed by the kiosk's key, checked together by `POST /v1/chip/verify`;
//! - **transfers**: the amount and recipient go to the customer's phone (RFC 9396
//!   `authorization_details`); above 10.000.000 ₫ the bank's rule asks for a face on the phone,
//!   and the counter checks with `POST /v1/verify` that the token approved exactly this transfer.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde_json::{Value, json};

use super::State;
use super::kiosk;
use super::pages::Page;
use crate::i18n::Texts;

pub const CLIENT_ID: &str = "lotus-bank";
const CSRF_COOKIE: &str = "demo_bank_csrf";

#[derive(Template)]
#[template(path = "demo/bank.html")]
struct BankPage<'a> {
    t: Texts,
    switch: &'a str,
    csrf: String,
    /// Reading a card: where the reader's form goes, and the reading.
    reader_action: &'static str,
    reading: Option<kiosk::Reading>,
    opened: Option<kiosk::Checked>,
    /// A transfer waiting for the phone: nonce, amount, recipient, the amount in words.
    transfer: Option<(String, u64, String, String)>,
    approved: Option<Approved>,
    /// What went wrong, in words, and its code for the details line.
    refused: Option<(String, String)>,
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
        reader_action: "/bank/open/card",
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

/// A new account: the reader's challenge for the card and the counter camera's.
pub async fn open(state: State, req: HttpRequest, form: web::Form<Csrf>) -> HttpResponse {
    let page = Page::of(&req);
    if !super::csrf_ok(&req, CSRF_COOKIE, &form.csrf_token) {
        return HttpResponse::Forbidden().body(page.t.get("demo.gate.csrf").into_owned());
    }
    match state.bank.start(&state, page.t, CLIENT_ID).await {
        Ok(reading) => render(&page, StatusCode::OK, |p| p.reading = Some(reading)),
        Err(r) => refused(&page, r.why, &r.code),
    }
}

/// The card read and the counter camera's face, checked together by the chip API.
pub async fn finish_opening(
    state: State,
    req: HttpRequest,
    form: web::Form<kiosk::CardRead>,
) -> HttpResponse {
    let page = Page::of(&req);
    if !super::csrf_ok(&req, CSRF_COOKIE, &form.csrf_token) {
        return HttpResponse::Forbidden().body(page.t.get("demo.gate.csrf").into_owned());
    }
    match state.bank.finish(&state, page.t, CLIENT_ID, &form).await {
        Ok(opened) => render(&page, StatusCode::OK, |p| p.opened = Some(opened)),
        Err(r) => refused(&page, r.why, &r.code),
    }
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
            let why = kiosk::words(&state, t, "verify", &code).await;
            refused(&page, why, &code)
        }
        Err(e) => {
            let r = kiosk::refusal(&state, t, e).await;
            refused(&page, r.why, &r.code)
        }
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
