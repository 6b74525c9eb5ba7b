//! Which language a page speaks: `?lang=vi|en` (remembered in a cookie), else the remembered
//! choice, else the browser's `Accept-Language`, else Vietnamese.

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header::{AcceptLanguage, Header, Preference};

use crate::i18n::Lang;

/// The cookie remembering an explicit choice.
pub const COOKIE: &str = "eid_lang";
/// A year: a language choice is not a secret and outlives any session.
const REMEMBER_SECS: i64 = 365 * 24 * 3600;

/// The language of this request's page, and the cookie to set when the request chose one.
pub struct Chosen {
    pub lang: Lang,
    pub remember: Option<Cookie<'static>>,
}

pub fn choose(req: &HttpRequest, secure: bool) -> Chosen {
    if let Some(lang) = asked(req.query_string()) {
        let remember = Cookie::build(COOKIE, lang.code())
            .path("/")
            .secure(secure)
            .http_only(true)
            .same_site(SameSite::Lax)
            .max_age(actix_web::cookie::time::Duration::seconds(REMEMBER_SECS))
            .finish();
        return Chosen {
            lang,
            remember: Some(remember),
        };
    }
    let lang = req
        .cookie(COOKIE)
        .and_then(|c| Lang::parse(c.value()))
        .or_else(|| from_accept_language(req))
        .unwrap_or_default();
    Chosen {
        lang,
        remember: None,
    }
}

/// `lang=` in a query string, if it names a language we speak.
pub fn asked(query: &str) -> Option<Lang> {
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "lang")
        .and_then(|(_, v)| Lang::parse(&v))
}

/// The most preferred of our languages in `Accept-Language` (q-values respected).
pub fn from_accept_language(req: &HttpRequest) -> Option<Lang> {
    let header = AcceptLanguage::parse(req).ok()?;
    header.ranked().into_iter().find_map(|p| match p {
        Preference::Specific(tag) => Lang::parse(tag.primary_language()),
        Preference::Any => None,
    })
}

/// The same page's address in the other language (for the switch link).
pub fn switch_url(path: &str, query: &str, to: Lang) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in form_urlencoded::parse(query.as_bytes()).filter(|(k, _)| k != "lang") {
        q.append_pair(&k, &v);
    }
    q.append_pair("lang", to.code());
    format!("{path}?{}", q.finish())
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    #[test]
    fn an_explicit_choice_wins_and_is_remembered() {
        let req = TestRequest::with_uri("/?lang=en")
            .insert_header(("accept-language", "vi"))
            .to_http_request();
        let chosen = choose(&req, false);
        assert_eq!(chosen.lang, Lang::En);
        assert_eq!(
            chosen.remember.map(|c| c.value().to_owned()),
            Some("en".into())
        );
    }

    #[test]
    fn the_cookie_beats_the_browser_and_the_browser_beats_the_default() {
        let req = TestRequest::with_uri("/")
            .cookie(Cookie::new(COOKIE, "vi"))
            .insert_header(("accept-language", "en-GB,en;q=0.9"))
            .to_http_request();
        assert_eq!(choose(&req, false).lang, Lang::Vi);
        let req = TestRequest::with_uri("/")
            .insert_header(("accept-language", "fr;q=1, en-US;q=0.8, vi;q=0.5"))
            .to_http_request();
        assert_eq!(choose(&req, false).lang, Lang::En);
        let req = TestRequest::with_uri("/")
            .insert_header(("accept-language", "fr, de"))
            .to_http_request();
        assert_eq!(choose(&req, false).lang, Lang::Vi);
        assert_eq!(
            choose(&TestRequest::default().to_http_request(), false).lang,
            Lang::Vi
        );
    }

    #[test]
    fn an_unknown_language_is_ignored() {
        assert_eq!(asked("lang=fr"), None);
        assert_eq!(asked("a=1&lang=EN-us"), Some(Lang::En));
        assert_eq!(
            switch_url("/x", "persona=adult&lang=vi", Lang::En),
            "/x?persona=adult&lang=en"
        );
    }
}
