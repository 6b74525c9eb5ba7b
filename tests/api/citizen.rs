//! A simulated citizen and their phone, for tests: the person's true biometrics from the people
//! file, a device key, and the app's calls.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signer, SigningKey};
use eid_gateway::biometrics::Template;
use eid_gateway::biometrics::liveness::{Action, signed_message};
use eid_gateway::population::PersonTruth;
use rand::SeedableRng;
use serde_json::{Value, json};

use crate::helpers::TestApp;

pub struct Citizen {
    pub truth: PersonTruth,
    pub device: SigningKey,
    pub password: String,
    pub passcode: String,
    pub session: Option<String>,
}

pub fn new_device() -> SigningKey {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).unwrap();
    SigningKey::from_bytes(&seed)
}

/// The people the dev seed wrote beside the store.
pub fn people(app: &TestApp) -> Vec<PersonTruth> {
    let text =
        std::fs::read_to_string(app.services.settings.store.data_dir.join("people.jsonl")).unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

impl Citizen {
    /// The `n`-th person of the seeded population (adults only, so every flow applies).
    pub fn nth(app: &TestApp, n: usize) -> Self {
        let truth = people(app)
            .into_iter()
            .filter(|p| p.person.birth_date.to_string().as_str() < "2005-01-01")
            .nth(n)
            .unwrap();
        Self {
            truth,
            device: new_device(),
            password: "sông Hồng chảy mãi 2024".into(),
            passcode: "274819".into(),
            session: None,
        }
    }

    pub fn id(&self) -> &str {
        self.truth.person.personal_id.as_str()
    }

    pub fn device_key(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.device.verifying_key().as_bytes())
    }

    /// A face capture answering `challenge` with this person's face (or `template`), signed by
    /// `device`, performing `actions` (the asked ones unless given).
    pub fn capture_with(
        challenge: &Value,
        template: &Template,
        device: &SigningKey,
        actions: Option<Vec<Action>>,
    ) -> Value {
        let asked: Vec<Action> = serde_json::from_value(challenge["actions"].clone()).unwrap();
        let actions = actions.unwrap_or(asked);
        let encoded = template.to_base64();
        let msg = signed_message(challenge["nonce"].as_str().unwrap(), &encoded, &actions);
        json!({
            "challenge_id": challenge["challenge_id"],
            "actions": actions,
            "template": encoded,
            "signature": URL_SAFE_NO_PAD.encode(device.sign(&msg).to_bytes()),
        })
    }

    /// A fresh genuine capture of this person's face: truth plus sensor noise.
    pub fn live_face(&self) -> Template {
        let mut rng = rand_chacha::ChaCha12Rng::seed_from_u64(rand::random());
        self.truth.face.with_noise(&mut rng, 0.06)
    }

    pub fn start_body(&self) -> Value {
        let p = &self.truth.person;
        json!({
            "personal_id": p.personal_id.as_str(),
            "full_name": p.full_name,
            "birth_date": p.birth_date,
            "phone": p.phone.as_str(),
            "device_public_key": self.device_key(),
        })
    }

    pub async fn latest_sms(&self, app: &TestApp) -> Option<String> {
        let msgs: Vec<Value> = app
            .get(&format!(
                "/dev/sms?phone={}",
                self.truth.person.phone.as_str()
            ))
            .await
            .json()
            .await
            .unwrap();
        msgs.first().map(|m| m["text"].as_str().unwrap().to_owned())
    }

    pub async fn otp(&self, app: &TestApp) -> String {
        let text = self.latest_sms(app).await.expect("an OTP was sent");
        text.split(|c: char| !c.is_ascii_digit())
            .find(|w| w.len() == 6)
            .unwrap()
            .to_owned()
    }

    pub async fn post(
        app: &TestApp,
        path: &str,
        body: &Value,
        bearer: Option<&str>,
    ) -> reqwest::Response {
        let mut req = app.client.post(app.url(path)).json(body);
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap()
    }

    /// A GET with the app's session token, as the app sends it.
    pub async fn get(app: &TestApp, path: &str, session: &str) -> reqwest::Response {
        app.client
            .get(app.url(path))
            .bearer_auth(session)
            .send()
            .await
            .unwrap()
    }

    pub async fn start(&self, app: &TestApp) -> String {
        let res = Self::post(app, "/v1/citizen/registrations", &self.start_body(), None).await;
        assert_eq!(res.status(), 202);
        let body: Value = res.json().await.unwrap();
        body["registration_id"].as_str().unwrap().to_owned()
    }

    pub async fn registration_challenge(app: &TestApp, registration: &str) -> Value {
        Self::post(
            app,
            &format!("/v1/citizen/registrations/{registration}/liveness-challenge"),
            &json!({}),
            None,
        )
        .await
        .json()
        .await
        .unwrap()
    }

    pub fn complete_body(&self, otp: &str, capture: Value) -> Value {
        json!({ "otp": otp, "password": self.password, "passcode": self.passcode, "face_capture": capture })
    }

    pub async fn complete(app: &TestApp, registration: &str, body: &Value) -> reqwest::Response {
        Self::post(
            app,
            &format!("/v1/citizen/registrations/{registration}/complete"),
            body,
            None,
        )
        .await
    }

    /// The whole level-1 registration, asserting success.
    pub async fn register(&self, app: &TestApp) {
        let reg = self.start(app).await;
        let otp = self.otp(app).await;
        let ch = Self::registration_challenge(app, &reg).await;
        let capture = Self::capture_with(&ch, &self.live_face(), &self.device, None);
        let res = Self::complete(app, &reg, &self.complete_body(&otp, capture)).await;
        assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    }

    pub async fn login_with(
        &self,
        app: &TestApp,
        password: &str,
        device: &SigningKey,
    ) -> reqwest::Response {
        let ch: Value = Self::post(
            app,
            "/v1/citizen/login/challenge",
            &json!({ "personal_id": self.id() }),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
        self.login_with_challenge(app, password, device, &ch).await
    }

    /// A login answering an already fetched challenge.
    pub async fn login_with_challenge(
        &self,
        app: &TestApp,
        password: &str,
        device: &SigningKey,
        ch: &Value,
    ) -> reqwest::Response {
        let sig = device.sign(&eid_gateway::identity::session::login_message(
            ch["nonce"].as_str().unwrap(),
        ));
        let body = json!({
            "personal_id": self.id(),
            "password": password,
            "challenge_id": ch["challenge_id"],
            "device_signature": URL_SAFE_NO_PAD.encode(sig.to_bytes()),
        });
        Self::post(app, "/v1/citizen/login", &body, None).await
    }

    pub async fn login(&mut self, app: &TestApp) -> Value {
        let res = self
            .login_with(app, &self.password.clone(), &self.device.clone())
            .await;
        assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
        let body: Value = res.json().await.unwrap();
        self.session = Some(body["session_token"].as_str().unwrap().to_owned());
        body
    }

    pub async fn step_up_passcode(&mut self, app: &TestApp, passcode: &str) -> reqwest::Response {
        Self::post(
            app,
            "/v1/citizen/session/step-up",
            &json!({ "passcode": passcode }),
            self.session.as_deref(),
        )
        .await
    }

    /// A capture of `template` answering a fresh liveness challenge of the current session.
    pub async fn session_capture(&self, app: &TestApp, template: &Template) -> Value {
        let ch: Value = Self::post(
            app,
            "/v1/citizen/session/liveness-challenge",
            &json!({}),
            self.session.as_deref(),
        )
        .await
        .json()
        .await
        .unwrap();
        Self::capture_with(&ch, template, &self.device, None)
    }

    /// Raises the stored account to identity level 2, as a chip enrolment would (the chip
    /// enrolment itself is tested in `chip_cards`).
    pub async fn make_level2(&self, app: &TestApp) {
        let id = eid_gateway::domain::PersonalId::parse(self.id()).unwrap();
        let mut account = app.services.accounts.get(&id).await.unwrap().unwrap();
        account.level = eid_gateway::domain::Level::Two;
        app.services.accounts.save(&account).await.unwrap();
    }

    pub async fn step_up_face(&mut self, app: &TestApp, template: &Template) -> reqwest::Response {
        let capture = self.session_capture(app, template).await;
        Self::post(
            app,
            "/v1/citizen/session/step-up",
            &json!({ "face_capture": capture }),
            self.session.as_deref(),
        )
        .await
    }

    pub async fn present(&self, app: &TestApp, client_id: &str, nonce: &str) -> reqwest::Response {
        Self::post(
            app,
            "/v1/presentations",
            &json!({ "client_id": client_id, "nonce": nonce }),
            self.session.as_deref(),
        )
        .await
    }

    /// The usage history, read from the app with the current session.
    pub async fn history(&self, app: &TestApp) -> Vec<Value> {
        Self::get(
            app,
            "/v1/citizen/history",
            self.session.as_deref().expect("logged in"),
        )
        .await
        .json()
        .await
        .unwrap()
    }

    /// A presentation token, approving `details` (RFC 9396) if given.
    pub async fn token_with(
        &self,
        app: &TestApp,
        client_id: &str,
        nonce: &str,
        details: Option<&Value>,
    ) -> String {
        let mut body = json!({ "client_id": client_id, "nonce": nonce });
        if let Some(d) = details {
            body["authorization_details"] = d.clone();
        }
        let res = Self::post(app, "/v1/presentations", &body, self.session.as_deref()).await;
        assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
        let body: Value = res.json().await.unwrap();
        body["token"].as_str().unwrap().to_owned()
    }

    pub async fn token_for(&self, app: &TestApp, client_id: &str, nonce: &str) -> String {
        let res = self.present(app, client_id, nonce).await;
        assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
        let body: Value = res.json().await.unwrap();
        body["token"].as_str().unwrap().to_owned()
    }
}

/// A relying party's verification call with its sandbox secret.
pub async fn verify(app: &TestApp, client_id: &str, token: &str, nonce: Option<&str>) -> Value {
    let mut body = json!({ "token": token });
    if let Some(n) = nonce {
        body["nonce"] = json!(n);
    }
    let res = app
        .client
        .post(app.url("/v1/verify"))
        .basic_auth(client_id, Some(crate::helpers::sandbox_secret(client_id)))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// A registered, logged-in level-1 citizen stepped up to `auth_level` 2 (password + device).
pub async fn logged_in(app: &TestApp, n: usize) -> Citizen {
    let mut c = Citizen::nth(app, n);
    c.register(app).await;
    c.login(app).await;
    c
}
