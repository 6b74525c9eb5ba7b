//! Authenticating relying parties: `client_secret_basic` and `private_key_jwt` (RFC 7523).
//!
//! Every failure is a named [`ClientAuthError`] so that metrics and the audit log can tell them
//! apart; the HTTP answer is the same `401 invalid_client` for all of them except for assertion
//! format problems a developer needs to see.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{ClientAuthentication, RelyingParties, RelyingParty};
use crate::clock::{SharedClock, Timestamp};
use crate::domain::ClientId;
use crate::store::{PutMode, SharedStore, StoreError};
use crate::tokens::jws::{self, JwsError};

/// What a client presented.
pub enum ClientCredentials {
    Basic {
        client_id: String,
        secret: SecretString,
    },
    Assertion {
        jwt: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum ClientAuthError {
    #[error("unknown client")]
    UnknownClient,
    #[error("wrong client secret")]
    WrongSecret,
    #[error("the client is disabled")]
    Disabled,
    #[error("the client is registered for another authentication method")]
    WrongMethod,
    #[error("client assertion: {0}")]
    Assertion(JwsError),
    #[error("client assertion signature does not verify with the registered key")]
    BadSignature,
    #[error("client assertion `iss` and `sub` must both be the client_id")]
    IssuerMismatch,
    #[error("client assertion `aud` must be exactly the issuer, as a single string")]
    Audience,
    #[error("client assertion has expired")]
    Expired,
    #[error("client assertion is not valid yet")]
    NotYetValid,
    #[error("client assertion lives longer than the allowed maximum")]
    LifetimeTooLong,
    #[error("client assertion needs a `jti`")]
    MissingJti,
    #[error("client assertion was already used")]
    Replayed,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ClientAuthError {
    /// A stable name for metrics and the audit log.
    pub fn reason(&self) -> &'static str {
        match self {
            ClientAuthError::UnknownClient => "unknown_client",
            ClientAuthError::WrongSecret => "wrong_secret",
            ClientAuthError::Disabled => "client_disabled",
            ClientAuthError::WrongMethod => "wrong_method",
            ClientAuthError::Assertion(JwsError::Algorithm(_)) => "assertion_algorithm",
            ClientAuthError::Assertion(JwsError::ForbiddenHeader(_)) => {
                "assertion_forbidden_header"
            }
            ClientAuthError::Assertion(_) => "assertion_malformed",
            ClientAuthError::BadSignature => "assertion_signature",
            ClientAuthError::IssuerMismatch => "assertion_issuer",
            ClientAuthError::Audience => "assertion_audience",
            ClientAuthError::Expired => "assertion_expired",
            ClientAuthError::NotYetValid => "assertion_not_yet_valid",
            ClientAuthError::LifetimeTooLong => "assertion_lifetime",
            ClientAuthError::MissingJti => "assertion_jti_missing",
            ClientAuthError::Replayed => "assertion_replayed",
            ClientAuthError::Store(_) => "store_unavailable",
        }
    }

    /// Whether the detail may be shown to the caller: format problems help a developer and reveal
    /// nothing; whether a client exists or a secret or key was right stays undisclosed.
    pub fn is_disclosable(&self) -> bool {
        !matches!(
            self,
            ClientAuthError::UnknownClient
                | ClientAuthError::WrongSecret
                | ClientAuthError::Disabled
                | ClientAuthError::WrongMethod
                | ClientAuthError::BadSignature
                | ClientAuthError::Store(_)
        )
    }
}

#[derive(Deserialize)]
pub(crate) struct AssertionClaims {
    iss: String,
    sub: String,
    aud: serde_json::Value,
    exp: i64,
    #[serde(default)]
    iat: Option<i64>,
    #[serde(default)]
    nbf: Option<i64>,
    #[serde(default)]
    jti: Option<String>,
}

#[derive(Clone)]
pub struct ClientAuthenticator {
    relying_parties: RelyingParties,
    store: SharedStore,
    clock: SharedClock,
    issuer: String,
    leeway: Duration,
    max_assertion_lifetime: Duration,
}

fn digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

impl ClientAuthenticator {
    pub fn new(
        relying_parties: RelyingParties,
        store: SharedStore,
        clock: SharedClock,
        issuer: String,
        leeway: Duration,
        max_assertion_lifetime: Duration,
    ) -> Self {
        Self {
            relying_parties,
            store,
            clock,
            issuer,
            leeway,
            max_assertion_lifetime,
        }
    }

    /// The client id a credential claims, for logs and the audit trail (never verified here).
    pub fn claimed_client_id(credentials: &ClientCredentials) -> Option<ClientId> {
        match credentials {
            ClientCredentials::Basic { client_id, .. } => ClientId::parse(client_id).ok(),
            ClientCredentials::Assertion { jwt } => jws::inspect(jwt).ok().and_then(|(_, c)| {
                c.get("iss")
                    .and_then(|i| i.as_str())
                    .and_then(|s| ClientId::parse(s).ok())
            }),
        }
    }

    pub async fn authenticate(
        &self,
        credentials: &ClientCredentials,
    ) -> Result<RelyingParty, ClientAuthError> {
        match credentials {
            ClientCredentials::Basic { client_id, secret } => self.basic(client_id, secret).await,
            ClientCredentials::Assertion { jwt } => self.assertion(jwt).await,
        }
    }

    async fn basic(
        &self,
        client_id: &str,
        secret: &SecretString,
    ) -> Result<RelyingParty, ClientAuthError> {
        let presented = digest(secret.expose_secret());
        let rp = match ClientId::parse(client_id) {
            Ok(id) => self.relying_parties.get(&id).await?,
            Err(_) => None,
        };
        // Compare against something even for an unknown client, so timing says nothing.
        let expected: [u8; 32] = match rp.as_ref().map(|r| &r.authentication) {
            Some(ClientAuthentication::ClientSecretBasic { secret_sha256 }) => {
                hex::decode(secret_sha256)
                    .ok()
                    .and_then(|v| v.try_into().ok())
                    .unwrap_or([0u8; 32])
            }
            _ => [0u8; 32],
        };
        let matches: bool = presented.ct_eq(&expected).into();
        match rp {
            None => Err(ClientAuthError::UnknownClient),
            Some(rp)
                if !matches!(
                    rp.authentication,
                    ClientAuthentication::ClientSecretBasic { .. }
                ) =>
            {
                Err(ClientAuthError::WrongMethod)
            }
            Some(_) if !matches => Err(ClientAuthError::WrongSecret),
            Some(rp) if rp.disabled => Err(ClientAuthError::Disabled),
            Some(rp) => Ok(rp),
        }
    }

    async fn assertion(&self, jwt: &str) -> Result<RelyingParty, ClientAuthError> {
        let (_, unverified) = jws::inspect_client_token(jwt).map_err(ClientAuthError::Assertion)?;
        let iss = unverified
            .get("iss")
            .and_then(|v| v.as_str())
            .ok_or(ClientAuthError::IssuerMismatch)?;
        let client_id = ClientId::parse(iss).map_err(|_| ClientAuthError::UnknownClient)?;
        let rp = self
            .relying_parties
            .get(&client_id)
            .await?
            .ok_or(ClientAuthError::UnknownClient)?;
        let ClientAuthentication::PrivateKeyJwt { public_key } = &rp.authentication else {
            return Err(ClientAuthError::WrongMethod);
        };
        if rp.disabled {
            return Err(ClientAuthError::Disabled);
        }
        let key = public_key.key().map_err(|_| ClientAuthError::WrongMethod)?;
        let claims: AssertionClaims =
            jws::verify_client_signed(jwt, &key).map_err(|e| match e {
                JwsError::BadSignature => ClientAuthError::BadSignature,
                other => ClientAuthError::Assertion(other),
            })?;
        if claims.iss != claims.sub || claims.iss != client_id.as_str() {
            return Err(ClientAuthError::IssuerMismatch);
        }
        if claims.aud.as_str() != Some(self.issuer.as_str()) {
            return Err(ClientAuthError::Audience);
        }
        let now = self.clock.now();
        let leeway = self.leeway.as_secs() as i64;
        let exp = Timestamp::from_secs(claims.exp);
        if claims.exp + leeway <= now.secs() {
            return Err(ClientAuthError::Expired);
        }
        if now.until(exp) > self.max_assertion_lifetime + self.leeway {
            return Err(ClientAuthError::LifetimeTooLong);
        }
        if claims.iat.is_some_and(|t| t > now.secs() + leeway)
            || claims.nbf.is_some_and(|t| t > now.secs() + leeway)
        {
            return Err(ClientAuthError::NotYetValid);
        }
        let jti = claims
            .jti
            .filter(|j| !j.is_empty() && j.len() <= 256)
            .ok_or(ClientAuthError::MissingJti)?;
        // Remember the jti until the assertion could no longer be accepted anyway.
        let marker = format!(
            "client-assertion-jti:{}:{}",
            client_id,
            URL_SAFE_NO_PAD.encode(Sha256::digest(jti.as_bytes()))
        );
        let first_use = self
            .store
            .put_expiring(
                &marker,
                Vec::new(),
                exp.plus(self.leeway),
                PutMode::IfAbsent,
                now,
            )
            .await?;
        if !first_use {
            return Err(ClientAuthError::Replayed);
        }
        Ok(rp)
    }
}
