//! The userinfo endpoint: the claims of the scopes granted, for a valid access token.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::OAuthError;
use super::claims::{Scope, oidc_claims};
use super::grants::{subject_of, verify_access_token};
use crate::domain::ClientId;
use crate::services::Services;

/// `dpop_jkt`: the key of the DPoP proof that came with the request (`Authorization: DPoP`), if
/// any. A DPoP-bound token needs a proof by its key; a bearer token must not come as DPoP.
pub async fn userinfo(
    services: &Services,
    token: &str,
    dpop_jkt: Option<&str>,
) -> Result<BTreeMap<String, Value>, OAuthError> {
    let claims = verify_access_token(services, token).await?;
    match (&claims.cnf, dpop_jkt) {
        (None, None) => {}
        (Some(c), Some(k)) if c.jkt == k => {}
        _ => return Err(OAuthError::InvalidToken),
    }
    let client = ClientId::parse(&claims.client_id).map_err(|_| OAuthError::InvalidToken)?;
    let rp = services
        .relying_parties
        .get(&client)
        .await?
        .ok_or(OAuthError::InvalidToken)?;
    let id = subject_of(services, &rp, &claims.sub)
        .await?
        .ok_or(OAuthError::InvalidToken)?;
    let account = services
        .accounts
        .get(&id)
        .await?
        .ok_or(OAuthError::InvalidToken)?;
    if account.is_locked() {
        return Err(OAuthError::InvalidToken);
    }
    let person = services
        .registry
        .person(&id)
        .await?
        .ok_or(OAuthError::InvalidToken)?;
    let scopes = super::claims::grantable(&claims.scope, &rp);
    if !scopes.contains(&Scope::Openid) {
        return Err(OAuthError::InvalidToken);
    }
    let today = services.clock.now().to_datetime().date_naive();
    let mut out = oidc_claims(&rp, &scopes, &person, today);
    out.insert("sub".into(), json!(claims.sub));
    Ok(out)
}
