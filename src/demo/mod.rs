//! `eidgw demo`: the relying parties' desks, as a separate process and origin from the gateway,
//! and real clients of it — everything goes through the gateway's public APIs, as a real
//! relying party's would, so each desk doubles as the reference integration for its kind.
//!
//! - the public-services portal (`/portal/`): "Đăng nhập bằng VNeID" through the gateway's
//!   OpenID Connect login (authorization code + PKCE, ID token checked against the JWKS), the
//!   claims, `acr`, `amr`, `auth_level` and the pairwise `sub`, then logout back to the portal;
//! - the vietsky-air boarding gate (`/gate/`): a passenger's presentation token checked with
//!   `/v1/verify` against the flight's nonce, answered in plain words from the gateway's message
//!   catalogue;
//! - the hanoi-general-hospital desk (`/hospital/`): a kiosk login (CIBA) by the patient's ID
//!   number or the login hint their phone shows, the binding message on the desk's screen, the
//!   phone's approval, then the patient's name and health-insurance number; and its kiosk's
//!   check of a chip card and a face (`kiosk.rs`, shared with the bank);
//! - the lotus-bank counter (`/bank/`) and the mekong-telecom back office (`/telecom/`);
//! - the citizen's phone (`/phone/`): the VNeID app with a browser-made device key, whose calls
//!   of the citizen API this process relays, and whose camera, SMS inbox and police desk it
//!   plays from the sandbox's people file.
//!
//! QR codes are read by the browser's camera with the vendored jsQR (`static/scan.js`).
//!
//! The desks' credentials stay in this process (`config/sandbox/demo.toml`); the demo refuses a
//! gateway that is not a sandbox.

mod bank;
mod credentials;
mod gate;
mod gateway;
mod hospital;
mod kiosk;
mod pages;
mod phone;
mod portal;
mod telecom;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use actix_web::{App, HttpServer, web};

pub use credentials::Credentials;
pub use gateway::Gateway;
pub use phone::People;

/// What the demo's handlers share.
pub struct DemoState {
    pub gateway: Gateway,
    /// Where browsers reach the demo (its redirect URIs are under it).
    pub public_url: String,
    /// Portal logins on their way through the gateway, by `state`.
    logins: Mutex<HashMap<String, portal::PendingLogin>>,
    /// The hospital desk's kiosk requests in flight.
    hospital: hospital::Desk,
    /// The bank counter's account openings waiting for a card.
    bank: kiosk::Reader,
    /// The sandbox's people, whose bodies the phone's camera plays (none: no camera).
    people: Option<std::sync::Arc<People>>,
}

/// A login not finished in this time is dropped.
const LOGIN_TTL: Duration = Duration::from_secs(600);
/// At most this many logins in flight: a demo on a laptop, not a load test.
const MAX_LOGINS: usize = 10_000;

impl DemoState {
    pub fn new(gateway: Gateway, public_url: String, people: Option<People>) -> Self {
        Self {
            gateway,
            public_url: public_url.trim_end_matches('/').to_owned(),
            logins: Mutex::new(HashMap::new()),
            hospital: hospital::Desk::default(),
            bank: kiosk::Reader::default(),
            people: people.map(std::sync::Arc::new),
        }
    }

    fn remember(&self, state: String, login: portal::PendingLogin) {
        if let Ok(mut all) = self.logins.lock() {
            all.retain(|_, l| l.started.elapsed() < LOGIN_TTL);
            if all.len() < MAX_LOGINS {
                all.insert(state, login);
            }
        }
    }

    fn take(&self, state: &str) -> Option<portal::PendingLogin> {
        let mut all = self.logins.lock().ok()?;
        all.remove(state)
            .filter(|l| l.started.elapsed() < LOGIN_TTL)
    }
}

pub type State = web::Data<DemoState>;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/").route(web::get().to(pages::index)))
        .service(web::resource("/static/eid.css").route(web::get().to(pages::stylesheet)))
        .service(web::resource("/static/desk.js").route(web::get().to(pages::desk_script)))
        .service(web::resource("/static/scan.js").route(web::get().to(pages::scan_script)))
        .service(web::resource("/static/vendor/jsQR.js").route(web::get().to(pages::qr_decoder)))
        .service(web::resource("/portal/").route(web::get().to(portal::home)))
        .service(web::resource("/portal/login").route(web::get().to(portal::login)))
        .service(web::resource("/portal/callback").route(web::get().to(portal::callback)))
        .service(web::resource("/gate/").route(web::get().to(gate::desk)))
        .service(web::resource("/gate/verify").route(web::post().to(gate::verify)))
        .service(web::resource("/hospital/").route(web::get().to(hospital::desk)))
        .service(web::resource("/hospital/ask").route(web::post().to(hospital::ask)))
        .service(web::resource("/hospital/wait/{handle}").route(web::get().to(hospital::wait)))
        .service(web::resource("/hospital/kiosk").route(web::post().to(hospital::kiosk)))
        .service(web::resource("/hospital/kiosk/card").route(web::post().to(hospital::kiosk_card)))
        .service(web::resource("/bank/").route(web::get().to(bank::desk)))
        .service(web::resource("/bank/open").route(web::post().to(bank::open)))
        .service(web::resource("/bank/open/card").route(web::post().to(bank::finish_opening)))
        .service(web::resource("/bank/transfer").route(web::post().to(bank::transfer)))
        .service(web::resource("/bank/transfer/approve").route(web::post().to(bank::approve)))
        .service(web::resource("/telecom/").route(web::get().to(telecom::desk)))
        .service(web::resource("/telecom/telecom.js").route(web::get().to(telecom::script)))
        .service(
            web::resource("/telecom/batch")
                .app_data(web::PayloadConfig::new(telecom::MAX_UPLOAD_BYTES))
                .route(web::post().to(telecom::batch)),
        )
        .service(web::resource("/phone/").route(web::get().to(phone::app)))
        .service(web::resource("/phone/phone.js").route(web::get().to(phone::script)))
        .service(web::resource("/phone/people").route(web::get().to(phone::holders)))
        .service(web::resource("/phone/camera").route(web::post().to(phone::camera)))
        .service(web::resource("/phone/police-desk").route(web::post().to(phone::police_desk)))
        .service(web::resource("/phone/sms").route(web::get().to(phone::sms)))
        .service(web::resource("/phone/qr").route(web::post().to(phone::qr)))
        .service(web::resource("/phone/gateway/{path:.*}").to(phone::gateway));
}

/// Where the demo listens, and where browsers reach it (default `http://127.0.0.1:PORT`).
pub struct Listen {
    pub listener: std::net::TcpListener,
    pub public_url: Option<String>,
}

/// Serves the desks and the phone until stopped; the phone's camera plays `people`.
pub async fn serve(
    gateway: Gateway,
    listen: Listen,
    people: Option<People>,
) -> anyhow::Result<(actix_web::dev::Server, u16)> {
    let listener = listen.listener;
    let port = listener.local_addr()?.port();
    let url = listen
        .public_url
        .unwrap_or_else(|| format!("http://127.0.0.1:{port}"));
    let state = web::Data::new(DemoState::new(gateway, url, people));
    let server = HttpServer::new(move || App::new().app_data(state.clone()).configure(configure))
        .workers(2)
        .listen(listener)?
        .run();
    Ok((server, port))
}

/// A gateway failure passed on to the browser as problem+json: the gateway's own problem when it
/// refused (its status and body), else 502 with `title`. What could not be done is logged.
fn passed_on(err: gateway::GatewayError, title: &str, doing: &str) -> actix_web::HttpResponse {
    use actix_web::http::StatusCode;
    match err {
        gateway::GatewayError::Refused { status, body } => actix_web::HttpResponse::build(
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
        )
        .content_type("application/problem+json")
        .json(body),
        err => {
            tracing::warn!(%err, "the demo cannot {doing}");
            crate::http::problem::Problem::new(
                StatusCode::BAD_GATEWAY,
                "unavailable",
                title,
                Some("the gateway cannot be reached".into()),
            )
            .response()
        }
    }
}

/// Random URL-safe text for `state`, `nonce`, PKCE verifiers and CSRF tokens.
fn random() -> Result<String, getrandom::Error> {
    use base64::Engine;
    let mut b = [0u8; 32];
    getrandom::fill(&mut b)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b))
}

/// A desk's CSRF cookie (double submit: the form carries the same random value).
fn csrf_cookie(
    name: &'static str,
    path: &'static str,
    token: String,
) -> actix_web::cookie::Cookie<'static> {
    actix_web::cookie::Cookie::build(name, token)
        .path(path)
        .http_only(true)
        .same_site(actix_web::cookie::SameSite::Strict)
        .finish()
}

/// Whether a desk's form carries its CSRF cookie's value.
fn csrf_ok(req: &actix_web::HttpRequest, name: &str, submitted: &str) -> bool {
    req.cookie(name)
        .is_some_and(|c| !submitted.is_empty() && c.value() == submitted)
}
