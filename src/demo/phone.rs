//! The citizen's phone (`/phone/`): the VNeID app in a browser tab. Its device key is made by the
//! browser (WebCrypto Ed25519, non-extractable, kept in IndexedDB), and every call it makes is a
//! call of the gateway's citizen API, relayed unchanged by this process (`/phone/gateway/…`):
//! the phone's page and the gateway are different origins and the gateway sends no CORS headers.
//!
//! What a real phone has and a browser does not, this process plays, in a sandbox only:
//! - the body in front of the camera (`/phone/camera`): the chosen person's true face from the
//!   people file plus sensor noise — or a stranger's, or someone else's — which the browser then
//!   signs with its device key for the liveness challenge;
//! - the SMS inbox (`/phone/sms`): the gateway's dev outbox for the phone number;
//! - the police desk (`/phone/police-desk`): a chip card issued through the operator API, whose
//!   chip key the browser imports as a non-extractable key to answer active authentication.

use actix_web::http::{Method, StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use rand::SeedableRng;

use super::State;
use super::pages::Page;
use crate::http::problem::Problem;
use crate::i18n::Texts;
use crate::population::PersonTruth;

/// How far a capture strays from the true face (as `eidgw sim` plays it).
const SENSOR_NOISE: f32 = 0.06;
/// People offered in the phone's "who holds this phone" list.
const PEOPLE_OFFERED: usize = 40;

/// The people file, read once: the registry's synthetic people with their true biometrics.
pub struct People(Vec<PersonTruth>);

impl People {
    pub fn load(path: &std::path::Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            anyhow::anyhow!(
                "{}: {e} (the people file the sandbox gateway wrote: pass --people)",
                path.display()
            )
        })?;
        let people = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(serde_json::from_str)
            .collect::<Result<Vec<PersonTruth>, _>>()
            .map_err(|e| anyhow::anyhow!("{}: not a people file: {e}", path.display()))?;
        Ok(Self(people))
    }

    pub(super) fn find(&self, personal_id: &str) -> Option<&PersonTruth> {
        self.0
            .iter()
            .find(|p| p.person.personal_id.as_str() == personal_id)
    }

    /// What a camera pointed at `holder` captures: `holder` (their true face), `stranger` (a
    /// face nobody has) or `someone_else` (another person of the registry), with sensor noise.
    pub(super) fn capture(
        &self,
        holder: &PersonTruth,
        subject: &str,
    ) -> Option<crate::biometrics::Template> {
        let mut rng = rand_chacha::ChaCha12Rng::seed_from_u64(rand::random());
        let dimensions = holder.face.dimensions();
        let face = match subject {
            "holder" => holder.face.clone(),
            "stranger" => crate::biometrics::Template::random(&mut rng, dimensions),
            "someone_else" => self
                .0
                .iter()
                .find(|p| p.person.personal_id != holder.person.personal_id)
                .map(|p| p.face.clone())
                .unwrap_or_else(|| crate::biometrics::Template::random(&mut rng, dimensions)),
            _ => return None,
        };
        Some(face.with_noise(&mut rng, SENSOR_NOISE))
    }
}

#[derive(Template)]
#[template(path = "demo/phone.html")]
struct PhonePage<'a> {
    t: Texts,
    switch: &'a str,
    /// The texts the phone's script shows, as JSON for it to read.
    script_texts: String,
}

/// The texts `static/phone.js` needs, in the page's language.
const SCRIPT_TEXTS: &[&str] = &[
    "demo.phone.sms_from",
    "demo.phone.registered",
    "demo.phone.level",
    "demo.phone.auth_level",
    "demo.phone.expires_in",
    "demo.phone.expired",
    "demo.phone.no_requests",
    "demo.phone.no_history",
    "demo.phone.no_consents",
    "demo.phone.withdraw",
    "demo.phone.approve_passcode",
    "demo.phone.approve_face",
    "demo.phone.deny",
    "demo.phone.approved",
    "demo.phone.denied",
    "demo.phone.releases",
    "demo.phone.transaction",
    "demo.phone.needs_face",
    "demo.phone.locked",
    "demo.phone.card_collected",
    "demo.phone.level2_done",
    "demo.phone.gate_nearby",
    "demo.phone.handed_over",
    "demo.phone.forget_confirm",
    "demo.phone.lock_confirm",
    "demo.phone.qr_asks",
    "demo.phone.failed",
    "demo.phone.stepped_up",
    "demo.phone.exported",
    "demo.phone.card_read",
];

pub async fn app(req: HttpRequest) -> HttpResponse {
    let page = Page::of(&req);
    let texts: serde_json::Map<String, serde_json::Value> = SCRIPT_TEXTS
        .iter()
        .map(|k| ((*k).to_owned(), page.t.get(k).into_owned().into()))
        .collect();
    // `</` cannot end the script element early: the JSON sits inside <script>.
    let script_texts = serde_json::Value::Object(texts)
        .to_string()
        .replace("</", "<\\/");
    page.render(
        StatusCode::OK,
        &PhonePage {
            t: page.t,
            switch: &page.switch,
            script_texts,
        },
    )
}

pub async fn script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(include_str!("../../static/phone.js"))
}

const PROBLEM_TITLE: &str = "The phone cannot do that";

fn problem(status: StatusCode, code: &str, detail: impl Into<String>) -> HttpResponse {
    Problem::new(status, code, PROBLEM_TITLE, Some(detail.into())).response()
}

/// Without a people file the phone has no body to play.
fn no_people() -> HttpResponse {
    problem(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "the demo has no people file: start it with --people (the file the sandbox gateway wrote)",
    )
}

/// The adults of the people file the phone offers as its holder (a sandbox's synthetic people).
pub async fn holders(state: State) -> HttpResponse {
    let Some(people) = state.people.as_ref() else {
        return no_people();
    };
    let list: Vec<serde_json::Value> = people
        .0
        .iter()
        .filter(|p| p.person.birth_date.to_string().as_str() < "2005-01-01")
        .take(PEOPLE_OFFERED)
        .map(|p| {
            serde_json::json!({
                "personal_id": p.person.personal_id.as_str(),
                "full_name": p.person.full_name,
                "birth_date": p.person.birth_date,
                "phone": p.person.phone.as_str(),
            })
        })
        .collect();
    HttpResponse::Ok().json(list)
}

#[derive(serde::Deserialize)]
pub struct CameraAsk {
    personal_id: String,
    /// `holder` (the phone's citizen), `stranger` (a face nobody has) or `someone_else` (another
    /// person of the registry).
    subject: String,
}

/// The camera's capture: a face template with sensor noise, which the browser signs.
pub async fn camera(state: State, ask: web::Json<CameraAsk>) -> HttpResponse {
    let Some(people) = state.people.as_ref() else {
        return no_people();
    };
    let Some(holder) = people.find(&ask.personal_id) else {
        return problem(
            StatusCode::NOT_FOUND,
            "not_found",
            "that person is not in the demo's people file",
        );
    };
    let Some(face) = people.capture(holder, &ask.subject) else {
        return problem(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "subject is one of holder, stranger, someone_else",
        );
    };
    let template = face.to_base64();
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({ "template": template }))
}

#[derive(serde::Deserialize)]
pub struct CardAsk {
    personal_id: String,
}

/// The police desk hands the citizen their chip card (the operator API, as the demo's officer).
pub async fn police_desk(state: State, ask: web::Json<CardAsk>) -> HttpResponse {
    if crate::domain::PersonalId::parse(&ask.personal_id).is_err() {
        return problem(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "personal_id is 12 digits",
        );
    }
    match state.gateway.issue_card(&ask.personal_id).await {
        Ok(image) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(image),
        Err(err) => super::passed_on(err, PROBLEM_TITLE, "issue a card"),
    }
}

#[derive(serde::Deserialize)]
pub struct SmsAsk {
    phone: String,
}

/// The phone's SMS inbox: the sandbox gateway's outbox for its number.
pub async fn sms(state: State, ask: web::Query<SmsAsk>) -> HttpResponse {
    let mut q = form_urlencoded::Serializer::new(String::new());
    q.append_pair("phone", &ask.phone);
    relayed(
        state
            .gateway
            .relay(
                reqwest::Method::GET,
                &format!("/dev/sms?{}", q.finish()),
                None,
                None,
            )
            .await,
    )
}

#[derive(serde::Deserialize)]
pub struct QrAsk {
    text: String,
}

/// `text` as a QR code (SVG), drawn here so the phone needs no QR library.
pub async fn qr(ask: web::Json<QrAsk>) -> HttpResponse {
    let svg = crate::http::html::qr_svg(&ask.text);
    if svg.is_empty() {
        return problem(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the text does not fit a QR code",
        );
    }
    HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(svg)
}

/// Whether the phone may reach `/v1/{path}`: the citizen's API and presentations only — the
/// relay is the app's, not a way around the relying parties' authentication.
fn citizen_path(path: &str) -> bool {
    path == "presentations"
        || (path.starts_with("citizen/")
            && path
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/-_.".contains(&b))
            && !path.contains(".."))
}

/// Relays one call of the phone to the gateway's `/v1/{path}`.
pub async fn gateway(
    state: State,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let path = path.into_inner();
    if !citizen_path(&path) {
        return problem(
            StatusCode::NOT_FOUND,
            "not_found",
            "the phone reaches the citizen API and presentations only",
        );
    }
    let method = match *req.method() {
        Method::GET => reqwest::Method::GET,
        Method::POST => reqwest::Method::POST,
        Method::DELETE => reqwest::Method::DELETE,
        _ => {
            return problem(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "GET, POST or DELETE",
            );
        }
    };
    let mut target = format!("/v1/{path}");
    if !req.query_string().is_empty() {
        target.push('?');
        target.push_str(req.query_string());
    }
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let body = (!body.is_empty()).then_some(body);
    relayed(
        state
            .gateway
            .relay(method, &target, authorization, body)
            .await,
    )
}

fn relayed(answer: Result<super::gateway::Relayed, reqwest::Error>) -> HttpResponse {
    match answer {
        Ok(r) => {
            let mut res = HttpResponse::build(
                StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_GATEWAY),
            );
            res.content_type(r.content_type)
                .insert_header((header::CACHE_CONTROL, "no-store"));
            if let Some(d) = r.content_disposition {
                res.insert_header((header::CONTENT_DISPOSITION, d));
            }
            res.body(r.body)
        }
        Err(err) => {
            tracing::warn!(%err, "the phone cannot reach the gateway");
            problem(
                StatusCode::BAD_GATEWAY,
                "unavailable",
                "the gateway cannot be reached",
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{SCRIPT_TEXTS, citizen_path};
    use crate::i18n::{Lang, exact};

    #[test]
    fn every_text_the_script_shows_exists_in_both_languages() {
        for key in SCRIPT_TEXTS {
            let (vi, en) = (exact(Lang::Vi, key), exact(Lang::En, key));
            assert!(vi.is_some() && en.is_some(), "{key}");
            assert_ne!(vi, en, "{key}");
        }
        // The script asks for its texts as T['key']: each one is handed to it.
        let script = include_str!("../../static/phone.js");
        for asked in script.split("T['").skip(1) {
            let key = asked.split('\'').next().unwrap_or_default();
            assert!(SCRIPT_TEXTS.contains(&key), "phone.js asks for {key}");
        }
    }

    #[test]
    fn the_relay_reaches_the_citizen_api_and_presentations_only() {
        for ok in [
            "citizen/login",
            "citizen/approvals/abc-1_2",
            "presentations",
            "citizen/consents/vietsky-air",
        ] {
            assert!(citizen_path(ok), "{ok}");
        }
        for refused in [
            "verify",
            "operator/cards",
            "citizen/../operator/cards",
            "citizen/%2e%2e/operator",
            "presentations/x",
            "match/batch",
            "",
        ] {
            assert!(!citizen_path(refused), "{refused}");
        }
    }
}
