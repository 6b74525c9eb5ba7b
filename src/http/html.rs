//! The citizen-facing pages' common ground: their language, their headers, and the one page
//! that tells a citizen something went wrong — in words from the catalogue, the code kept in a
//! "details" line for support.

use actix_web::cookie::Cookie;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder};
use askama::Template;

use super::AppState;
use super::language;
use crate::i18n::Texts;

/// What every page needs from its request.
pub struct PageContext {
    pub t: Texts,
    /// Dev mode: the sandbox banner and helpers.
    pub sandbox: bool,
    remember: Option<Cookie<'static>>,
    path: String,
    query: String,
}

impl PageContext {
    pub fn of(state: &AppState, req: &HttpRequest) -> Self {
        let secure = state.services.issuer().starts_with("https://");
        let chosen = language::choose(req, secure);
        Self {
            t: Texts::new(chosen.lang),
            sandbox: state.services.settings.is_dev(),
            remember: chosen.remember,
            path: req.path().to_owned(),
            query: req.query_string().to_owned(),
        }
    }

    /// This page in the other language (pages reached by GET only).
    pub fn switch(&self) -> Option<String> {
        Some(language::switch_url(
            &self.path,
            &self.query,
            self.t.lang.other(),
        ))
    }

    /// The headers every page carries, and the language cookie when the request chose one.
    pub fn respond(&self, status: StatusCode) -> HttpResponseBuilder {
        let mut b = page_response(status);
        b.insert_header((header::CONTENT_LANGUAGE, self.t.lang.code()));
        if let Some(c) = &self.remember {
            b.cookie(c.clone());
        }
        b
    }

    /// A page that tells the citizen what went wrong: `heading` and the catalogue's message for
    /// the OAuth-family `code`; the code itself (and `support`, a technical detail) only under
    /// "details".
    pub fn error(
        &self,
        status: StatusCode,
        heading: &str,
        code: &str,
        support: Option<&str>,
    ) -> HttpResponse {
        self.message_page(
            status,
            heading,
            &self.t.code("oauth", code),
            Some(code),
            support,
        )
    }

    /// A page that says something without an error (signed out).
    pub fn notice(&self, status: StatusCode, heading: &str, detail: &str) -> HttpResponse {
        self.message_page(status, heading, &self.t.get(detail), None, None)
    }

    /// The store or the signer failed: the citizen may retry.
    pub fn unavailable(&self) -> HttpResponse {
        self.error(
            StatusCode::SERVICE_UNAVAILABLE,
            "heading.unavailable",
            "temporarily_unavailable",
            None,
        )
    }

    fn message_page(
        &self,
        status: StatusCode,
        heading: &str,
        detail: &str,
        code: Option<&str>,
        support: Option<&str>,
    ) -> HttpResponse {
        let heading = self.t.get(heading);
        let page = MessagePage {
            t: self.t,
            sandbox: self.sandbox,
            switch: None,
            heading: &heading,
            detail,
            code,
            support,
        };
        match page.render() {
            Ok(body) => self.respond(status).body(body),
            Err(err) => {
                tracing::error!(%err, "cannot render a message page");
                self.respond(status).body(detail.to_owned())
            }
        }
    }
}

#[derive(Template)]
#[template(path = "oidc/message.html")]
struct MessagePage<'a> {
    t: Texts,
    sandbox: bool,
    switch: Option<String>,
    heading: &'a str,
    detail: &'a str,
    code: Option<&'a str>,
    support: Option<&'a str>,
}

fn no_store(mut b: HttpResponseBuilder) -> HttpResponseBuilder {
    b.insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"));
    b
}

/// Headers for every page: no framing, no caching, no referrer, a tight CSP.
pub fn page_response(status: StatusCode) -> HttpResponseBuilder {
    let mut b = no_store(HttpResponse::build(status));
    b.content_type("text/html; charset=utf-8")
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'",
        ))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
    b
}

/// `text` as a QR code in SVG (empty when it does not fit one).
pub fn qr_svg(text: &str) -> String {
    match qrcode::QrCode::new(text.as_bytes()) {
        Ok(code) => code
            .render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(200, 200)
            .build(),
        Err(_) => String::new(),
    }
}
