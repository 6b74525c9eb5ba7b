//! Extractors that make authentication structural: a handler that takes a [`CitizenSession`] or
//! an [`AuthenticatedOperator`] cannot run for an unauthenticated caller. Relying parties pass
//! through [`super::guard`], which authenticates them with [`authenticate`].

use std::future::Future;
use std::pin::Pin;

use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, dev::Payload};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use secrecy::SecretString;
use serde_json::json;

use super::State;
use super::problem::ApiError;
use crate::audit::AuditKind;
use crate::relying_parties::{ClientAuthenticator, ClientCredentials, RelyingParty};

/// Reads client credentials from the `Authorization` header:
/// `Basic base64(urlencode(client_id) ":" urlencode(secret))` (RFC 6749 §2.3.1) or
/// `private_key_jwt <assertion>` (an RFC 7523 client assertion).
pub fn credentials_from(req: &HttpRequest) -> Result<ClientCredentials, ApiError> {
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or(ApiError::ClientAuthenticationMissing)?;
    let (scheme, rest) = value
        .split_once(' ')
        .ok_or(ApiError::ClientAuthenticationMissing)?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = STANDARD
            .decode(rest)
            .map_err(|_| ApiError::ClientAuthenticationMissing)?;
        let text = String::from_utf8(decoded).map_err(|_| ApiError::ClientAuthenticationMissing)?;
        let (id, secret) = text
            .split_once(':')
            .ok_or(ApiError::ClientAuthenticationMissing)?;
        let unescape = |s: &str| -> String {
            form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        Ok(ClientCredentials::Basic {
            client_id: unescape(id),
            secret: SecretString::from(unescape(secret)),
        })
    } else if scheme.eq_ignore_ascii_case("private_key_jwt") {
        Ok(ClientCredentials::Assertion {
            jwt: rest.to_owned(),
        })
    } else {
        Err(ApiError::ClientAuthenticationMissing)
    }
}

/// Authenticates, and on failure counts it and writes it to the audit log.
pub async fn authenticate(
    state: &State,
    credentials: ClientCredentials,
) -> Result<RelyingParty, ApiError> {
    let services = &state.services;
    match services
        .client_authenticator
        .authenticate(&credentials)
        .await
    {
        Ok(rp) => Ok(rp),
        Err(e) => {
            let reason = e.reason();
            tracing::info!(reason, "client authentication failed");
            state
                .services
                .metrics
                .client_auth_failures
                .with_label_values(&[reason])
                .inc();
            if !matches!(e, crate::relying_parties::ClientAuthError::Store(_)) {
                let claimed = ClientAuthenticator::claimed_client_id(&credentials)
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "unknown".into());
                let method = match credentials {
                    ClientCredentials::Basic { .. } => "client_secret_basic",
                    ClientCredentials::Assertion { .. } => "private_key_jwt",
                };
                let details = json!({ "client_id": claimed, "method": method, "reason": reason });
                if let Err(err) = services
                    .audit
                    .record(AuditKind::ClientAuthenticationFailed, "gateway", details)
                    .await
                {
                    tracing::warn!(%err, "could not audit a client authentication failure");
                }
            }
            Err(e.into())
        }
    }
}

/// A citizen's app session (`Authorization: Bearer <session token>`).
pub struct CitizenSession {
    pub session: crate::identity::session::Session,
    pub account: crate::accounts::Account,
}

impl FromRequest for CitizenSession {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<State>().cloned();
        let token = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|t| t.trim().to_owned());
        Box::pin(async move {
            let state =
                state.ok_or_else(|| ApiError::Internal("application state missing".into()))?;
            let token = token.ok_or(crate::identity::session::SessionError::InvalidSession)?;
            let (session, account) =
                crate::identity::session::authenticate(&state.services, &token).await?;
            Ok(CitizenSession { session, account })
        })
    }
}

/// An operator (enrolment officer) authenticated with HTTP Basic against the configured
/// operator credentials; the id is recorded with every action in the audit log.
pub struct AuthenticatedOperator(pub String);

impl FromRequest for AuthenticatedOperator {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        use sha2::Digest;
        use subtle::ConstantTimeEq;
        let result = (|| {
            let state = req
                .app_data::<State>()
                .ok_or_else(|| ApiError::Internal("application state missing".into()))?;
            let ClientCredentials::Basic { client_id, secret } = credentials_from(req)? else {
                return Err(ApiError::ClientAuthenticationMissing);
            };
            let presented: [u8; 32] =
                sha2::Sha256::digest(secrecy::ExposeSecret::expose_secret(&secret).as_bytes())
                    .into();
            let mut found = None;
            for op in &state.services.settings.operators {
                let expected: [u8; 32] = hex::decode(&op.secret_sha256)
                    .ok()
                    .and_then(|v| v.try_into().ok())
                    .unwrap_or([0; 32]);
                let same: bool = presented.ct_eq(&expected).into();
                if same && op.id == client_id {
                    found = Some(op.id.clone());
                }
            }
            found.map(AuthenticatedOperator).ok_or(ApiError::Outcome {
                status: 401,
                code: "invalid_operator",
                detail: "unknown operator or wrong secret".into(),
            })
        })();
        std::future::ready(result)
    }
}
