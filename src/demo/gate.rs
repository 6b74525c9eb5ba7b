//! The vietsky-air boarding gate: the flight's nonce on the screen, the passenger's
//! presentation token (scanned or pasted) checked with `POST /v1/verify`, and the answer in
//! plain words — the gateway's recommended message for the reason, never a raw code.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::State;
use super::pages::Page;
use crate::i18n::Texts;

pub const CLIENT_ID: &str = "vietsky-air";
const CSRF_COOKIE: &str = "demo_gate_csrf";

#[derive(Template)]
#[template(path = "demo/gate.html")]
struct GatePage<'a> {
    t: Texts,
    switch: &'a str,
    nonce: String,
    csrf: String,
    outcome: Option<Outcome>,
}

/// What the gate tells the agent.
struct Outcome {
    accepted: bool,
    /// `verify` reason or problem code, kept for the agent's details line.
    code: String,
    text: String,
    passenger: Option<String>,
    level: Option<String>,
}

impl Outcome {
    /// A refusal of `family`'s `code`, in the gateway's recommended words.
    async fn refused(state: &State, t: Texts, family: &str, code: &str) -> Self {
        let text = state
            .gateway
            .message(t.lang, family, code)
            .await
            .unwrap_or_else(|| t.get("code.unknown").into_owned());
        Self {
            accepted: false,
            code: code.to_owned(),
            text,
            passenger: None,
            level: None,
        }
    }
}

/// A fresh boarding: a new nonce for the passenger's app (`sim present --nonce` or the phone).
pub async fn desk(req: HttpRequest) -> HttpResponse {
    let page = Page::of(&req);
    render(&page, None).await
}

async fn render(page: &Page, outcome: Option<Outcome>) -> HttpResponse {
    let (Ok(nonce), Ok(csrf)) = (super::random(), super::random()) else {
        return HttpResponse::ServiceUnavailable().finish();
    };
    let nonce = format!("gate-{}", &nonce[..8]);
    let mut res = page.render(
        StatusCode::OK,
        &GatePage {
            t: page.t,
            switch: &page.switch,
            nonce,
            csrf: csrf.clone(),
            outcome,
        },
    );
    let _ = res.add_cookie(&super::csrf_cookie(CSRF_COOKIE, "/gate/", csrf));
    res
}

#[derive(serde::Deserialize)]
pub struct Boarding {
    token: String,
    nonce: String,
    csrf_token: String,
}

pub async fn verify(state: State, req: HttpRequest, form: web::Form<Boarding>) -> HttpResponse {
    let page = Page::of(&req);
    let t = page.t;
    if !super::csrf_ok(&req, CSRF_COOKIE, &form.csrf_token) {
        return HttpResponse::Forbidden().body(t.get("demo.gate.csrf").into_owned());
    }
    let token = form.token.trim();
    let outcome = match state
        .gateway
        .verify(CLIENT_ID, token, &form.nonce, None)
        .await
    {
        Ok(answer) if answer["valid"] == true => Outcome {
            accepted: true,
            code: "valid".into(),
            text: t.get("demo.gate.accepted").into_owned(),
            passenger: answer["claims"]["full_name"].as_str().map(str::to_owned),
            level: answer["level"].as_u64().map(|l| l.to_string()),
        },
        Ok(answer) => {
            let code = answer["reason"].as_str().unwrap_or("invalid");
            Outcome::refused(&state, t, "verify", code).await
        }
        Err(super::gateway::GatewayError::Refused { body, .. }) => {
            let code = body["code"].as_str().unwrap_or("invalid_request");
            Outcome::refused(&state, t, "problem", code).await
        }
        Err(err) => {
            tracing::warn!(%err, "the gate cannot verify");
            Outcome {
                accepted: false,
                code: "unreachable".into(),
                text: t.get("demo.gate.unreachable").into_owned(),
                passenger: None,
                level: None,
            }
        }
    };
    render(&page, Some(outcome)).await
}
