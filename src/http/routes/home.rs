//! The front page (`GET /`) and the message catalogue relying parties show their users
//! (`GET /v1/messages`).

use std::collections::BTreeMap;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

use crate::http::html::PageContext;
use crate::http::{ApiError, State};
use crate::i18n::{Lang, Texts, catalogue};

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    t: Texts,
    sandbox: bool,
    switch: Option<String>,
    issuer: String,
    personas: Vec<PersonaRow>,
    personas_note: String,
}

struct PersonaRow {
    role: String,
    full_name: String,
    personal_id: String,
    ready_for: String,
}

impl PersonaRow {
    fn of(p: crate::population::Persona, lang: Lang) -> Self {
        let ready_for = crate::i18n::exact(lang, &format!("persona.{}", p.role))
            .map(|t| t.into_owned())
            .unwrap_or(p.ready_for);
        Self {
            role: p.role,
            full_name: p.full_name,
            personal_id: p.personal_id,
            ready_for,
        }
    }
}

/// What this gateway is, where its documents are and, in dev mode, who to sign in as.
pub async fn home(state: State, req: HttpRequest) -> HttpResponse {
    let page = PageContext::of(&state, &req);
    let personas = if page.sandbox {
        match state.services.registry.personas().await {
            Ok(p) => p
                .into_iter()
                .map(|p| PersonaRow::of(p, page.t.lang))
                .collect(),
            Err(err) => {
                // The page is still useful without them.
                tracing::warn!(%err, "personas unavailable for the front page");
                Vec::new()
            }
        }
    } else {
        Vec::new()
    };
    let body = HomePage {
        t: page.t,
        sandbox: page.sandbox,
        switch: page.switch(),
        issuer: state.services.issuer().to_owned(),
        personas,
        personas_note: page.t.lang.text_with(
            "home.personas_note",
            &[("password", crate::identity::sandbox::PASSWORD)],
        ),
    }
    .render();
    match body {
        Ok(body) => page.respond(StatusCode::OK).body(body),
        Err(err) => {
            tracing::error!(%err, "cannot render the front page");
            page.unavailable()
        }
    }
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
pub struct MessagesQuery {
    /// `vi` or `en` (a region such as `vi-VN` is accepted). Without it, the request's
    /// `Accept-Language` decides, and Vietnamese without that.
    pub lang: Option<String>,
}

/// Every code of one family and its recommended message.
pub type FamilyMessages = BTreeMap<&'static str, String>;

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Messages {
    /// The language of the messages: `vi` or `en`.
    #[schema(value_type = String, example = "vi")]
    pub lang: Lang,
    /// Family (`verify`, `chip`, `biometric`, `match`, `oauth`, `problem`) → code → message.
    #[schema(value_type = BTreeMap<String, BTreeMap<String, String>>)]
    pub messages: BTreeMap<&'static str, FamilyMessages>,
}

/// The recommended message for the citizen for every reason and error code the gateway answers
/// with, in Vietnamese or English: show these to people instead of a raw code. The same texts the
/// gateway's own pages use; the table is in the README and at the end of this description.
#[utoipa::path(get, path = "/v1/messages", tag = "messages", params(MessagesQuery), responses(
    (status = 200, body = Messages, description = "Family → code → message, in the language asked for"),
    (status = 400, description = "`invalid_lang`: a language the gateway does not speak", body = crate::http::Problem, content_type = "application/problem+json"),
))]
pub async fn messages(
    req: HttpRequest,
    q: actix_web::web::Query<MessagesQuery>,
) -> Result<HttpResponse, ApiError> {
    let lang = match q.lang.as_deref() {
        Some(asked) => Lang::parse(asked)
            .ok_or_else(|| ApiError::bad_request("invalid_lang", "lang must be `vi` or `en`"))?,
        None => crate::http::language::from_accept_language(&req).unwrap_or_default(),
    };
    let messages = catalogue::all(lang)
        .into_iter()
        .map(|(family, codes)| {
            let codes = codes
                .into_iter()
                .map(|(code, text)| (code, text.into_owned()))
                .collect();
            (family, codes)
        })
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .insert_header((header::CONTENT_LANGUAGE, lang.code()))
        .insert_header((header::VARY, "Accept-Language"))
        .json(Messages { lang, messages }))
}
