//! The OpenID Connect provider (SPEC §5.4): authorization code flow with PKCE S256 and PAR,
//! server-rendered login (ID number + password + SMS OTP) and consent, the token endpoint with
//! single-use codes and rotating refresh tokens, userinfo, introspection, revocation and
//! RP-initiated logout.
//!
//! Nothing here knows HTTP: `crate::http::routes::oauth` parses requests, calls one use case and
//! renders the answer (a redirect, a page, or RFC 6749 JSON). Every piece of flow state (PAR
//! requests, interactions, codes, browser sessions, refresh tokens, revocations) lives in the
//! store, so any gateway instance can continue a flow another one started.

pub mod authorize;
pub mod ciba;
pub mod claims;
pub mod consent;
pub mod discovery;
pub mod dpop;
pub mod grants;
pub mod interaction;
pub mod introspection;
pub mod logout;
pub mod params;
pub mod pkce;
pub mod registration;
pub mod token;
pub mod userinfo;
pub mod web_session;

use std::time::Duration;

use crate::store::StoreError;

pub use claims::Scope;
pub use params::Params;

/// A PAR `request_uri` lives this long and is used once.
pub const PAR_TTL: Duration = Duration::from_secs(60);
/// An authorization code lives at most this long and is used once.
pub const CODE_TTL: Duration = Duration::from_secs(60);
/// The login and consent pages of one authorization request.
pub const INTERACTION_TTL: Duration = Duration::from_secs(600);
pub const ACCESS_TOKEN_TTL: Duration = Duration::from_secs(600);
pub const ID_TOKEN_TTL: Duration = Duration::from_secs(600);
pub const REFRESH_TOKEN_TTL: Duration = Duration::from_secs(30 * 86_400);
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";
pub const ID_TOKEN_TYP: &str = "JWT";
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// RFC 6749 §5.2 (and RFC 7009, RFC 7662, RFC 9126) errors, as the token, PAR, introspection and
/// revocation endpoints return them.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    #[error("{0}")]
    InvalidRequest(String),
    /// Client authentication failed; the detail stays in the log and the audit trail.
    #[error("client authentication failed")]
    InvalidClient,
    #[error("{0}")]
    InvalidGrant(String),
    #[error("{0}")]
    UnauthorizedClient(String),
    #[error(
        "grant_type must be authorization_code, refresh_token or urn:openid:params:grant-type:ciba"
    )]
    UnsupportedGrantType,
    #[error("{0}")]
    InvalidScope(String),
    #[error("the access token is not valid")]
    InvalidToken,
    #[error("{0}")]
    InvalidDpopProof(String),
    /// RFC 9396 §5.
    #[error("{0}")]
    InvalidAuthorizationDetails(String),
    /// OpenID CIBA Core §13 and §11: the decoupled flow's errors.
    #[error("{0}")]
    UnknownUserId(String),
    #[error("the login_hint_token has expired; ask the citizen to show a fresh one")]
    ExpiredLoginHintToken,
    #[error("{0}")]
    InvalidBindingMessage(String),
    #[error("{0}")]
    UnmetAuthenticationRequirements(String),
    #[error("{0}")]
    AccessDenied(String),
    #[error("the citizen has not answered yet")]
    AuthorizationPending,
    #[error("polling too fast: wait {0} seconds between requests")]
    SlowDown(u64),
    #[error("the authentication request has expired")]
    ExpiredToken,
    /// RFC 7591 §3.2.2: a redirect URI the gateway does not accept.
    #[error("{0}")]
    InvalidRedirectUri(String),
    /// RFC 7591 §3.2.2: metadata the gateway does not accept.
    #[error("{0}")]
    InvalidClientMetadata(String),
    /// The client's quota for this minute is spent (answered `429` with `Retry-After`).
    #[error("too many requests from this client: retry after {retry_after_secs} seconds")]
    RateLimited { retry_after_secs: u64 },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot sign: {0}")]
    Signing(String),
}

impl From<dpop::DpopError> for OAuthError {
    fn from(e: dpop::DpopError) -> Self {
        match e {
            dpop::DpopError::Store(s) => OAuthError::Store(s),
            other => OAuthError::InvalidDpopProof(other.to_string()),
        }
    }
}

impl OAuthError {
    /// The RFC 6749 `error` code.
    pub fn code(&self) -> &'static str {
        match self {
            OAuthError::InvalidRequest(_) => "invalid_request",
            OAuthError::InvalidClient => "invalid_client",
            OAuthError::InvalidGrant(_) => "invalid_grant",
            OAuthError::UnauthorizedClient(_) => "unauthorized_client",
            OAuthError::UnsupportedGrantType => "unsupported_grant_type",
            OAuthError::InvalidScope(_) => "invalid_scope",
            OAuthError::InvalidToken => "invalid_token",
            OAuthError::InvalidDpopProof(_) => "invalid_dpop_proof",
            OAuthError::InvalidAuthorizationDetails(_) => "invalid_authorization_details",
            OAuthError::UnknownUserId(_) => "unknown_user_id",
            OAuthError::ExpiredLoginHintToken => "expired_login_hint_token",
            OAuthError::InvalidBindingMessage(_) => "invalid_binding_message",
            OAuthError::UnmetAuthenticationRequirements(_) => "unmet_authentication_requirements",
            OAuthError::AccessDenied(_) => "access_denied",
            OAuthError::AuthorizationPending => "authorization_pending",
            OAuthError::SlowDown(_) => "slow_down",
            OAuthError::ExpiredToken => "expired_token",
            OAuthError::InvalidRedirectUri(_) => "invalid_redirect_uri",
            OAuthError::InvalidClientMetadata(_) => "invalid_client_metadata",
            // RFC 6749 §4.1.2.1's code for an overloaded server, which every client library knows.
            OAuthError::RateLimited { .. } => "temporarily_unavailable",
            OAuthError::Store(_) => "temporarily_unavailable",
            OAuthError::Signing(_) => "server_error",
        }
    }

    pub fn invalid_request(detail: impl Into<String>) -> Self {
        OAuthError::InvalidRequest(detail.into())
    }

    pub fn invalid_grant(detail: impl Into<String>) -> Self {
        OAuthError::InvalidGrant(detail.into())
    }
}

/// A back-channel request may repeat `client_id` (RFC 6749 §2.3.1); if it does, it must name the
/// client that authenticated.
pub fn same_client(
    p: &Params,
    rp: &crate::relying_parties::RelyingParty,
) -> Result<(), OAuthError> {
    if p.get("client_id")
        .is_some_and(|c| c != rp.client_id.as_str())
    {
        return Err(OAuthError::invalid_request(
            "client_id does not match the authenticated client",
        ));
    }
    Ok(())
}

/// The store key of a bearer secret (code, refresh token, session id): only its SHA-256 is ever
/// stored, so a store dump hands out nothing usable.
pub fn secret_key(kind: &str, secret: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    let digest = sha2::Sha256::digest(secret.as_bytes());
    format!(
        "oidc-{kind}:{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
    )
}
