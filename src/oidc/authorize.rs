//! The authorization request: validated once (at PAR or at the authorization endpoint) into an
//! [`AuthorizationRequest`], then carried through login and consent to the code.
//!
//! Until the redirect URI is known to be registered (exact string match), errors are shown to
//! the user and never redirected; after that they go back to the client with `state` and `iss`
//! (RFC 9207).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::claims::{Scope, grantable};
use super::{OAuthError, PAR_TTL, Params, REQUEST_URI_PREFIX, pkce};
use crate::challenges::random_token;
use crate::domain::{ClientId, Level};
use crate::identity::transactions::{self, AuthorizationDetail};
use crate::relying_parties::RelyingParty;
use crate::services::Services;
use crate::store::{PutMode, Table, decode, encode};

/// `prompt` values (OpenID Connect Core §3.1.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Prompt {
    None,
    Login,
    Consent,
}

/// A validated authorization request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationRequest {
    pub client_id: ClientId,
    pub redirect_uri: String,
    pub scopes: BTreeSet<Scope>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: String,
    /// The identity level `acr_values` asks for, if any.
    pub required_level: Option<Level>,
    pub max_age: Option<u64>,
    pub prompt: BTreeSet<Prompt>,
    pub login_hint: Option<String>,
    /// The transaction to approve with this login (RFC 9396), shown on the consent page.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authorization_details: Vec<AuthorizationDetail>,
}

/// A failed authorization request, and whether it may go back to the client.
#[derive(Debug)]
pub enum AuthorizeError {
    /// Shown on an error page: the client or redirect URI cannot be trusted.
    Page {
        error: &'static str,
        detail: String,
    },
    /// Sent back to the (registered) redirect URI.
    Redirect(RedirectError),
    Store(crate::store::StoreError),
}

impl From<crate::store::StoreError> for AuthorizeError {
    fn from(e: crate::store::StoreError) -> Self {
        AuthorizeError::Store(e)
    }
}

/// An error for the client's redirect URI.
#[derive(Debug, Clone)]
pub struct RedirectError {
    pub redirect_uri: String,
    pub state: Option<String>,
    pub error: &'static str,
    pub description: String,
}

impl AuthorizationRequest {
    /// The error response for this request's redirect URI.
    pub fn error(&self, error: &'static str, description: impl Into<String>) -> RedirectError {
        RedirectError {
            redirect_uri: self.redirect_uri.clone(),
            state: self.state.clone(),
            error,
            description: description.into(),
        }
    }
}

fn page(error: &'static str, detail: impl Into<String>) -> AuthorizeError {
    AuthorizeError::Page {
        error,
        detail: detail.into(),
    }
}

pub const ACR_VALUES: [&str; 2] = [Level::One.acr(), Level::Two.acr()];

/// The identity level `acr_values` asks for: the highest known value named, if any.
pub fn asked_level(acr_values: Option<&str>) -> Option<Level> {
    acr_values?.split(' ').filter_map(Level::from_acr).max()
}

/// Validates the parameters of an authorization request for `rp`.
pub fn validate(rp: &RelyingParty, p: &Params) -> Result<AuthorizationRequest, AuthorizeError> {
    let redirect_uri = p
        .get("redirect_uri")
        .ok_or_else(|| page("invalid_request", "redirect_uri is required"))?;
    if !rp.redirect_uris.iter().any(|r| r == redirect_uri) {
        return Err(page(
            "invalid_request",
            "redirect_uri is not registered for this client",
        ));
    }
    let state = p.get("state").map(str::to_owned);
    let fail = |error: &'static str, description: &str| {
        AuthorizeError::Redirect(RedirectError {
            redirect_uri: redirect_uri.to_owned(),
            state: state.clone(),
            error,
            description: description.to_owned(),
        })
    };
    if p.contains("request") {
        return Err(fail(
            "request_not_supported",
            "use PAR instead of request objects",
        ));
    }
    match p.get("response_type") {
        Some("code") => {}
        Some(_) => {
            return Err(fail(
                "unsupported_response_type",
                "only the authorization code flow (response_type=code) is supported",
            ));
        }
        None => return Err(fail("invalid_request", "response_type is required")),
    }
    if p.get("response_mode").is_some_and(|m| m != "query") {
        return Err(fail(
            "invalid_request",
            "only response_mode=query is supported",
        ));
    }
    let scopes = grantable(p.get("scope").unwrap_or(""), rp);
    if !scopes.contains(&Scope::Openid) {
        return Err(fail("invalid_scope", "scope must include openid"));
    }
    let challenge = match (p.get("code_challenge"), p.get("code_challenge_method")) {
        (None, _) => return Err(fail("invalid_request", "PKCE is required: code_challenge")),
        (Some(_), Some(m)) if m != "S256" => {
            return Err(fail(
                "invalid_request",
                "code_challenge_method must be S256",
            ));
        }
        (Some(_), None) => {
            // RFC 7636 defaults a missing method to `plain`, which is refused.
            return Err(fail(
                "invalid_request",
                "code_challenge_method=S256 is required",
            ));
        }
        (Some(c), Some(_)) if !pkce::valid_challenge(c) => {
            return Err(fail(
                "invalid_request",
                "code_challenge is not an S256 challenge",
            ));
        }
        (Some(c), Some(_)) => c.to_owned(),
    };
    let mut prompt = BTreeSet::new();
    for v in p
        .get("prompt")
        .unwrap_or("")
        .split(' ')
        .filter(|v| !v.is_empty())
    {
        let value = match v {
            "none" => Prompt::None,
            "login" => Prompt::Login,
            "consent" => Prompt::Consent,
            _ => {
                return Err(fail(
                    "invalid_request",
                    "prompt must be none, login or consent",
                ));
            }
        };
        prompt.insert(value);
    }
    if prompt.contains(&Prompt::None) && prompt.len() > 1 {
        return Err(fail("invalid_request", "prompt=none cannot be combined"));
    }
    let max_age = match p.get("max_age") {
        Some(v) => Some(
            v.parse::<u64>()
                .map_err(|_| fail("invalid_request", "max_age must be a number of seconds"))?,
        ),
        None => None,
    };
    let asked = asked_level(p.get("acr_values"));
    // The client's registered minimum identity level applies to every login, asked or not.
    let required_level = asked.max(Some(rp.min_level)).filter(|l| *l > Level::One);
    let bounded = |name: &str| -> Result<Option<String>, AuthorizeError> {
        match p.get(name) {
            Some(v) if v.len() > 512 => Err(fail("invalid_request", "a parameter is too long")),
            v => Ok(v.map(str::to_owned)),
        }
    };
    if state.as_ref().is_some_and(|s| s.len() > 512) {
        return Err(fail("invalid_request", "state is too long"));
    }
    let authorization_details = match p.get("authorization_details") {
        Some(json) => {
            transactions::parse(json).map_err(|e| fail("invalid_authorization_details", &e.0))?
        }
        None => Vec::new(),
    };
    Ok(AuthorizationRequest {
        client_id: rp.client_id.clone(),
        redirect_uri: redirect_uri.to_owned(),
        scopes,
        state: state.clone(),
        nonce: bounded("nonce")?,
        code_challenge: challenge,
        required_level,
        max_age,
        prompt,
        login_hint: bounded("login_hint")?,
        authorization_details,
    })
}

#[derive(Serialize, Deserialize)]
struct PushedRequest {
    client_id: ClientId,
    request: AuthorizationRequest,
}

/// RFC 9126: stores a request pushed by an authenticated client and returns its `request_uri`.
pub async fn push(
    services: &Services,
    rp: &RelyingParty,
    p: &Params,
) -> Result<String, OAuthError> {
    if p.contains("request_uri") {
        return Err(OAuthError::invalid_request(
            "request_uri is not allowed in a pushed request",
        ));
    }
    super::same_client(p, rp)?;
    let request = validate(rp, p).map_err(|e| match e {
        AuthorizeError::Page { detail, .. } => OAuthError::InvalidRequest(detail),
        AuthorizeError::Redirect(r) if r.error == "invalid_scope" => {
            OAuthError::InvalidScope(r.description)
        }
        AuthorizeError::Redirect(r) if r.error == "invalid_authorization_details" => {
            OAuthError::InvalidAuthorizationDetails(r.description)
        }
        AuthorizeError::Redirect(r) => OAuthError::InvalidRequest(r.description),
        AuthorizeError::Store(s) => OAuthError::Store(s),
    })?;
    let id = random_token()?;
    let now = services.clock.now();
    let record = PushedRequest {
        client_id: rp.client_id.clone(),
        request,
    };
    services
        .store
        .put_expiring(
            &format!("oidc-par:{id}"),
            encode(&record)?,
            now.plus(PAR_TTL),
            PutMode::IfAbsent,
            now,
        )
        .await?;
    Ok(format!("{REQUEST_URI_PREFIX}{id}"))
}

/// Resolves the request at the authorization endpoint: a pushed one (used up here, and only by
/// the client that pushed it) or plain query parameters.
pub async fn resolve(
    services: &Services,
    rp: &RelyingParty,
    p: &Params,
) -> Result<AuthorizationRequest, AuthorizeError> {
    let Some(uri) = p.get("request_uri") else {
        return validate(rp, p);
    };
    let id = uri
        .strip_prefix(REQUEST_URI_PREFIX)
        .ok_or_else(|| page("invalid_request_uri", "request_uri was not issued here"))?;
    let key = format!("oidc-par:{id}");
    let now = services.clock.now();
    let Some(raw) = services.store.get_expiring(&key, now).await? else {
        return Err(page(
            "invalid_request_uri",
            "request_uri is unknown, expired or already used",
        ));
    };
    let pushed: PushedRequest = decode(Table::Meta, &raw)?;
    if pushed.client_id != rp.client_id {
        return Err(page(
            "invalid_request_uri",
            "request_uri belongs to another client",
        ));
    }
    // Of two concurrent uses, one wins.
    if services.store.take_expiring(&key, now).await?.is_none() {
        return Err(page(
            "invalid_request_uri",
            "request_uri is unknown, expired or already used",
        ));
    }
    Ok(pushed.request)
}
