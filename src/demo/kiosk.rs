//! A desk's card reader and camera, shared by the bank's account opening and the hospital's
//! kiosk check: the reader challenges the chip (the phone holding the card answers), the desk's
//! camera films whoever stands there and the desk's kiosk key signs the capture, and
//! `POST /v1/chip/verify` checks the chip's passive and active authentication and the face
//! together.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use ed25519_dalek::Signer;
use serde_json::{Value, json};

use super::State;
use super::gateway::GatewayError;
use crate::i18n::Texts;

/// A reading not finished in this time is dropped (the gateway's challenges expire sooner).
const READING_TTL: Duration = Duration::from_secs(600);
const MAX_READINGS: usize = 1_000;

/// One desk's card readings waiting for a card, by the desk's handle.
#[derive(Default)]
pub struct Reader {
    readings: Mutex<HashMap<String, Waiting>>,
}

struct Waiting {
    chip_challenge: String,
    liveness: Value,
    started: Instant,
}

/// The desk's form once the card has answered.
#[derive(serde::Deserialize)]
pub struct CardRead {
    pub csrf_token: String,
    handle: String,
    /// The chip's answer (JSON: data groups, SOD, active authentication).
    chip_read: String,
    /// Who stands in front of the desk's camera: `holder` (the default) or `someone_else`.
    #[serde(default)]
    subject: Option<String>,
}

/// A reading started: the desk's handle and the reader's active-authentication challenge.
pub struct Reading {
    pub handle: String,
    pub challenge: String,
}

/// What the chip API said of the card and the face.
pub struct Checked {
    pub name: String,
    /// `passive`, `active`, `face`, each passed or not.
    pub checks: Vec<(String, bool)>,
    pub card_status: String,
}

/// Why a reading was refused: in words, and the code for the details line.
pub struct Refused {
    pub why: String,
    pub code: String,
}

impl Refused {
    fn new(why: impl Into<String>, code: &str) -> Self {
        Self {
            why: why.into(),
            code: code.to_owned(),
        }
    }
}

/// The words for a gateway refusal: its catalogue message for the code.
pub async fn words(state: &State, t: Texts, family: &str, code: &str) -> String {
    state
        .gateway
        .message(t.lang, family, code)
        .await
        .unwrap_or_else(|| t.get("code.unknown").into_owned())
}

/// A gateway failure in words: its problem's code, or "unreachable".
pub async fn refusal(state: &State, t: Texts, err: GatewayError) -> Refused {
    match err {
        GatewayError::Refused { body, .. } => {
            let code = body["code"].as_str().unwrap_or("invalid_request");
            Refused::new(words(state, t, "problem", code).await, code)
        }
        err => {
            tracing::warn!(%err, "a desk cannot reach the gateway");
            Refused::new(t.get("demo.gate.unreachable"), "unreachable")
        }
    }
}

impl Reader {
    /// A new reading as `client_id`: the reader's challenge for the card and the camera's
    /// liveness challenge.
    pub async fn start(
        &self,
        state: &State,
        t: Texts,
        client_id: &str,
    ) -> Result<Reading, Refused> {
        let gateway = &state.gateway;
        let chip = gateway
            .post_json(client_id, "/v1/chip/challenge", &json!({}))
            .await;
        let chip = match chip {
            Ok(c) => c,
            Err(e) => return Err(refusal(state, t, e).await),
        };
        let liveness = gateway
            .post_json(client_id, "/v1/chip/liveness-challenge", &json!({}))
            .await;
        let liveness = match liveness {
            Ok(l) => l,
            Err(e) => return Err(refusal(state, t, e).await),
        };
        let (Ok(handle), Some(challenge)) = (super::random(), chip["challenge_id"].as_str()) else {
            return Err(Refused::new(t.get("demo.error"), "unavailable"));
        };
        let challenge = challenge.to_owned();
        let Ok(mut all) = self.readings.lock() else {
            return Err(Refused::new(t.get("demo.error"), "unavailable"));
        };
        all.retain(|_, w| w.started.elapsed() < READING_TTL);
        if all.len() >= MAX_READINGS {
            return Err(Refused::new(t.get("demo.error"), "busy"));
        }
        all.insert(
            handle.clone(),
            Waiting {
                chip_challenge: challenge.clone(),
                liveness,
                started: Instant::now(),
            },
        );
        Ok(Reading { handle, challenge })
    }

    /// The card's answer and the camera's capture of whoever stands at the desk, checked
    /// together by the chip API.
    pub async fn finish(
        &self,
        state: &State,
        t: Texts,
        client_id: &str,
        form: &CardRead,
    ) -> Result<Checked, Refused> {
        let subject = form.subject.as_deref().unwrap_or("holder");
        let waiting = self
            .readings
            .lock()
            .ok()
            .and_then(|mut all| all.remove(&form.handle))
            .filter(|w| w.started.elapsed() < READING_TTL);
        let Some(waiting) = waiting else {
            return Err(Refused::new(t.get("demo.kiosk.no_opening"), "unknown"));
        };
        let Ok(read) = serde_json::from_str::<Value>(&form.chip_read) else {
            return Err(Refused::new(t.get("demo.kiosk.unreadable"), "malformed"));
        };
        if read["active_authentication"]["challenge_id"] != waiting.chip_challenge.as_str() {
            return Err(Refused::new(
                t.get("demo.kiosk.other_reader"),
                "wrong_challenge",
            ));
        }
        let face = match (
            state.people.as_ref(),
            stated_personal_id(&read),
            state.gateway.kiosk_key(client_id),
        ) {
            (Some(people), Some(id), Ok(kiosk)) => people
                .find(&id)
                .and_then(|holder| people.capture(holder, subject))
                .and_then(|template| kiosk_capture(&waiting.liveness, &template, &kiosk)),
            _ => None,
        };
        let mut body = json!({ "chip_read": read });
        if let Some(f) = face {
            body["face_capture"] = f;
        }
        let answer = match state
            .gateway
            .post_json(client_id, "/v1/chip/verify", &body)
            .await
        {
            Ok(a) => a,
            Err(e) => return Err(refusal(state, t, e).await),
        };
        if answer["authentic"] != true {
            let code = answer["reason"].as_str().unwrap_or("not_authentic");
            return Err(Refused::new(words(state, t, "chip", code).await, code));
        }
        let passed = |name: &str| {
            answer["checks"][name]["ok"] == true || answer["checks"][name]["matched"] == true
        };
        let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        Ok(Checked {
            name: text(&answer["claims"]["full_name"]),
            checks: ["passive", "active", "face"]
                .iter()
                .filter(|c| !answer["checks"][**c].is_null())
                .map(|c| ((*c).to_owned(), passed(c)))
                .collect(),
            card_status: text(&answer["card_status"]),
        })
    }
}

/// The personal id the card's DG13 states (checked by the gateway, not here).
fn stated_personal_id(read: &Value) -> Option<String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(read["dg13"].as_str()?)
        .ok()?;
    let dg13: Value = serde_json::from_slice(&bytes).ok()?;
    dg13["personal_id"].as_str().map(str::to_owned)
}

/// The desk camera's capture answering `challenge`, signed by the kiosk's key.
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
