//! The demo's side of the gateway's public APIs, called exactly as a real relying party would:
//! discovery, the token endpoint, ID token validation against the JWKS, `/v1/verify` and the
//! message catalogue. Nothing here reaches into the gateway's code.

use std::sync::Arc;

use secrecy::ExposeSecret;
use serde_json::Value;

use super::credentials::Credentials;
use crate::i18n::Lang;

/// The endpoints discovery names.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    pub end_session_endpoint: String,
    pub backchannel_authentication_endpoint: String,
}

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("cannot reach the gateway: {0}")]
    Unreachable(#[from] reqwest::Error),
    #[error("the gateway answered {status}: {body}")]
    Refused { status: u16, body: Value },
    #[error("{0}")]
    Invalid(String),
}

/// A relayed answer: status, media type and body as the gateway sent them.
pub struct Relayed {
    pub status: u16,
    pub content_type: String,
    /// A download's file name (the signed history export).
    pub content_disposition: Option<String>,
    pub body: actix_web::web::Bytes,
}

pub struct Gateway {
    pub base: String,
    pub discovery: Discovery,
    http: reqwest::Client,
    credentials: Arc<Credentials>,
}

impl Gateway {
    /// Reads discovery; refuses a gateway that is not a sandbox (no `/dev/personas`): the
    /// demo's credentials are sandbox clients and its phone plays a simulated body.
    pub async fn connect(base: &str, credentials: Credentials) -> anyhow::Result<Self> {
        let base = base.trim_end_matches('/').to_owned();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(30))
            .pool_idle_timeout(crate::startup::CLIENT_POOL_IDLE)
            .build()?;
        let discovery: Discovery = http
            .get(format!("{base}/.well-known/openid-configuration"))
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("cannot reach the gateway at {base}: {e}"))?
            .error_for_status()?
            .json()
            .await?;
        let sandbox = http.get(format!("{base}/dev/personas")).send().await?;
        if !sandbox.status().is_success() {
            anyhow::bail!(
                "{base} is not a sandbox gateway (no /dev/personas): the demo runs only against dev mode"
            );
        }
        Ok(Self {
            base,
            discovery,
            http,
            credentials: Arc::new(credentials),
        })
    }

    fn basic(&self, client_id: &str) -> Result<(String, String), GatewayError> {
        let secret = self
            .credentials
            .secret(client_id)
            .map_err(|e| GatewayError::Invalid(e.to_string()))?;
        Ok((client_id.to_owned(), secret.expose_secret().to_owned()))
    }

    async fn answer(res: reqwest::Response) -> Result<Value, GatewayError> {
        let status = res.status().as_u16();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        if status >= 400 {
            return Err(GatewayError::Refused { status, body });
        }
        Ok(body)
    }

    /// The token endpoint, as `client_id` (client_secret_basic).
    pub async fn token(
        &self,
        client_id: &str,
        form: &[(&str, &str)],
    ) -> Result<Value, GatewayError> {
        self.post_form(&self.discovery.token_endpoint, client_id, form)
            .await
    }

    /// A kiosk login request (OpenID CIBA `bc-authorize`), as `client_id`.
    pub async fn backchannel(
        &self,
        client_id: &str,
        form: &[(&str, &str)],
    ) -> Result<Value, GatewayError> {
        self.post_form(
            &self.discovery.backchannel_authentication_endpoint,
            client_id,
            form,
        )
        .await
    }

    /// A form post to an OAuth endpoint, authenticated as `client_id` (client_secret_basic).
    async fn post_form(
        &self,
        url: &str,
        client_id: &str,
        form: &[(&str, &str)],
    ) -> Result<Value, GatewayError> {
        let (id, secret) = self.basic(client_id)?;
        let res = self
            .http
            .post(url)
            .basic_auth(id, Some(secret))
            .form(form)
            .send()
            .await?;
        Self::answer(res).await
    }

    /// An ID token's claims, once its signature (published JWKS), issuer, audience, expiry and
    /// nonce (when the flow has one: CIBA has none) hold.
    pub async fn validate_id_token(
        &self,
        token: &str,
        client_id: &str,
        nonce: Option<&str>,
    ) -> Result<Value, GatewayError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| GatewayError::Invalid(format!("not a JWS: {e}")))?;
        let jwks: jsonwebtoken::jwk::JwkSet = self
            .http
            .get(&self.discovery.jwks_uri)
            .send()
            .await?
            .json()
            .await?;
        let jwk = header
            .kid
            .as_deref()
            .and_then(|kid| jwks.find(kid))
            .ok_or_else(|| GatewayError::Invalid("no published key for this kid".into()))?;
        let key = jsonwebtoken::DecodingKey::from_jwk(jwk)
            .map_err(|e| GatewayError::Invalid(e.to_string()))?;
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
        validation.set_issuer(&[&self.discovery.issuer]);
        validation.set_audience(&[client_id]);
        let claims = jsonwebtoken::decode::<Value>(token, &key, &validation)
            .map_err(|e| GatewayError::Invalid(format!("the ID token does not hold: {e}")))?
            .claims;
        if let Some(nonce) = nonce
            && claims["nonce"] != nonce
        {
            return Err(GatewayError::Invalid(
                "the ID token's nonce is not ours".into(),
            ));
        }
        Ok(claims)
    }

    /// `POST /v1/verify` as `client_id`, for `nonce` and, when the desk is about to execute
    /// one, the exact transaction (RFC 9396) the token must have approved.
    pub async fn verify(
        &self,
        client_id: &str,
        token: &str,
        nonce: &str,
        transaction: Option<&Value>,
    ) -> Result<Value, GatewayError> {
        let mut body = serde_json::json!({ "token": token, "nonce": nonce });
        if let Some(t) = transaction {
            body["authorization_details"] = t.clone();
        }
        self.post_json(client_id, "/v1/verify", &body).await
    }

    /// A relying-party API call (`/v1/…`) as `client_id`: client_secret_basic, or a fresh
    /// private_key_jwt assertion for the desks that hold a key.
    pub async fn post_json(
        &self,
        client_id: &str,
        path: &str,
        body: &Value,
    ) -> Result<Value, GatewayError> {
        let req = self.http.post(format!("{}{path}", self.base)).json(body);
        let req = self.authenticated(req, client_id)?;
        Self::answer(req.send().await?).await
    }

    /// An attribute-match batch (`POST /v1/match/batch`) as `client_id`: the NDJSON answer as
    /// it streams back.
    pub async fn match_batch(
        &self,
        client_id: &str,
        ndjson: Vec<u8>,
    ) -> Result<reqwest::Response, GatewayError> {
        let req = self
            .http
            .post(format!("{}/v1/match/batch", self.base))
            .header(reqwest::header::CONTENT_TYPE, "application/x-ndjson")
            // A long batch streams for longer than the demo's usual timeout.
            .timeout(std::time::Duration::from_secs(3600))
            .body(ndjson);
        let res = self.authenticated(req, client_id)?.send().await?;
        if res.status().is_success() {
            return Ok(res);
        }
        Err(Self::answer(res)
            .await
            .err()
            .unwrap_or(GatewayError::Invalid(
                "the gateway refused the batch".into(),
            )))
    }

    /// `req` authenticated as `client_id`: client_secret_basic, or a fresh private_key_jwt
    /// assertion for the desks that hold a key.
    fn authenticated(
        &self,
        req: reqwest::RequestBuilder,
        client_id: &str,
    ) -> Result<reqwest::RequestBuilder, GatewayError> {
        Ok(match self.credentials.private_key(client_id) {
            Some(key) => {
                let pem = std::fs::read_to_string(key)
                    .map_err(|e| GatewayError::Invalid(format!("{}: {e}", key.display())))?;
                let assertion = crate::tokens::client_assertion::client_assertion(
                    client_id,
                    &self.discovery.issuer,
                    &pem,
                )
                .map_err(|e| GatewayError::Invalid(e.to_string()))?;
                req.header(
                    reqwest::header::AUTHORIZATION,
                    format!("private_key_jwt {assertion}"),
                )
            }
            None => {
                let (id, secret) = self.basic(client_id)?;
                req.basic_auth(id, Some(secret))
            }
        })
    }

    /// The kiosk camera key of `client_id`'s desk, which signs its live face captures.
    pub fn kiosk_key(&self, client_id: &str) -> Result<ed25519_dalek::SigningKey, GatewayError> {
        let path = self
            .credentials
            .kiosk_key(client_id)
            .ok_or_else(|| GatewayError::Invalid(format!("{client_id} has no kiosk key")))?;
        let pem = std::fs::read_to_string(path)
            .map_err(|e| GatewayError::Invalid(format!("{}: {e}", path.display())))?;
        crate::tokens::client_assertion::signing_key(&pem)
            .map_err(|e| GatewayError::Invalid(e.to_string()))
    }

    /// Relays one call of the citizen's app to the gateway unchanged — the phone's device key,
    /// session token and captures are the browser's; this process only forwards them (the
    /// phone's page and the gateway are different origins, and the gateway has no CORS).
    pub async fn relay(
        &self,
        method: reqwest::Method,
        path_and_query: &str,
        authorization: Option<&str>,
        body: Option<actix_web::web::Bytes>,
    ) -> Result<Relayed, reqwest::Error> {
        let mut req = self
            .http
            .request(method, format!("{}{path_and_query}", self.base));
        if let Some(a) = authorization {
            req = req.header(reqwest::header::AUTHORIZATION, a);
        }
        if let Some(b) = body {
            req = req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(b);
        }
        let res = req.send().await?;
        let status = res.status().as_u16();
        let content_type = res
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/json")
            .to_owned();
        let content_disposition = res
            .headers()
            .get(reqwest::header::CONTENT_DISPOSITION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = res.bytes().await?;
        Ok(Relayed {
            status,
            content_type,
            content_disposition,
            body,
        })
    }

    /// A chip card for `personal_id`, issued through the operator API as the demo's officer (the
    /// police desk): the chip image document, with the chip's private key the phone keeps.
    pub async fn issue_card(&self, personal_id: &str) -> Result<Value, GatewayError> {
        let officer = self.credentials.operator().ok_or_else(|| {
            GatewayError::Invalid("the demo's credentials name no operator".into())
        })?;
        let res = self
            .http
            .post(format!("{}/v1/operator/cards", self.base))
            .basic_auth(&officer.id, Some(officer.secret.expose_secret()))
            .json(&serde_json::json!({ "personal_id": personal_id }))
            .send()
            .await?;
        Self::answer(res).await
    }

    /// The gateway's recommended message for `code` of `family`, in `lang` — the catalogue
    /// every relying party is asked to show (`GET /v1/messages`).
    pub async fn message(&self, lang: Lang, family: &str, code: &str) -> Option<String> {
        let all: Value = self
            .http
            .get(format!("{}/v1/messages?lang={}", self.base, lang.code()))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        all["messages"][family][code].as_str().map(str::to_owned)
    }
}
