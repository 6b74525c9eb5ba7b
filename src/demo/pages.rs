//! The demo's pages: their language (as the gateway's pages choose it), headers and the front
//! page listing the desks.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

use super::State;
use crate::i18n::Texts;

/// What every demo page needs from its request.
pub struct Page {
    pub t: Texts,
    pub switch: String,
    remember: Option<actix_web::cookie::Cookie<'static>>,
}

impl Page {
    pub fn of(req: &HttpRequest) -> Self {
        let chosen = crate::http::language::choose(req, false);
        let switch =
            crate::http::language::switch_url(req.path(), req.query_string(), chosen.lang.other());
        Self {
            t: Texts::new(chosen.lang),
            switch,
            remember: chosen.remember,
        }
    }

    pub fn render(&self, status: StatusCode, page: &impl Template) -> HttpResponse {
        let mut b = crate::http::html::page_response(status);
        b.insert_header((header::CONTENT_LANGUAGE, self.t.lang.code()));
        if let Some(c) = &self.remember {
            b.cookie(c.clone());
        }
        match page.render() {
            Ok(body) => b.body(body),
            Err(err) => {
                tracing::error!(%err, "cannot render a demo page");
                b.body(self.t.get("demo.error").into_owned())
            }
        }
    }
}

#[derive(Template)]
#[template(path = "demo/index.html")]
struct IndexPage<'a> {
    t: Texts,
    switch: &'a str,
    gateway: &'a str,
}

pub async fn index(state: State, req: HttpRequest) -> HttpResponse {
    let page = Page::of(&req);
    page.render(
        StatusCode::OK,
        &IndexPage {
            t: page.t,
            switch: &page.switch,
            gateway: &state.gateway.base,
        },
    )
}

pub async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .body(concat!(
            include_str!("../../static/eid.css"),
            include_str!("../../static/demo.css")
        ))
}

/// The desks' hand-over with a phone tab of the same browser.
pub async fn desk_script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(include_str!("../../static/desk.js"))
}

/// The camera's QR scanner for the desks and the phone.
pub async fn scan_script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(include_str!("../../static/scan.js"))
}

/// jsQR, vendored (static/vendor/README.md): the same bytes for as long as this binary runs.
const QR_DECODER: &str = include_str!("../../static/vendor/jsQR.js");

pub async fn qr_decoder() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(QR_DECODER)
}

#[cfg(test)]
mod tests {
    use sha2::Digest;

    /// The vendored decoder is the one static/vendor/README.md names, byte for byte.
    #[test]
    fn the_vendored_qr_decoder_is_the_recorded_release() {
        let readme = include_str!("../../static/vendor/README.md");
        let digest = hex::encode(sha2::Sha256::digest(super::QR_DECODER.as_bytes()));
        assert!(readme.contains(&format!("`{digest}`")), "{digest}");
        assert!(readme.contains("| 1.4.0 |"));
    }
}
