//! Token introspection (RFC 7662) for the client a token was issued to. Anything not valid —
//! expired, revoked, another client's, an ID token, garbage — is `{"active": false}`.

use serde_json::{Value, json};

use super::claims::scope_string;
use super::grants::{access_claims_json, live_refresh_token, verify_access_token};
use crate::relying_parties::RelyingParty;
use crate::services::Services;
use crate::store::StoreError;

pub async fn introspect(
    services: &Services,
    rp: &RelyingParty,
    token: &str,
) -> Result<Value, StoreError> {
    match verify_access_token(services, token).await {
        Ok(c) if c.client_id == rp.client_id.as_str() => return Ok(access_claims_json(&c)),
        Ok(_) => return Ok(inactive()),
        Err(super::OAuthError::Store(e)) => return Err(e),
        Err(_) => {}
    }
    if let Some((grant, _, expires_at)) = live_refresh_token(services, &rp.client_id, token).await?
    {
        let sub = crate::identity::pairwise::subject(
            &services.pairwise_secret,
            &rp.sector,
            &grant.personal_id,
        );
        return Ok(json!({
            "active": true,
            "token_type": "refresh_token",
            "client_id": rp.client_id.as_str(),
            "scope": scope_string(&grant.scopes),
            "sub": sub,
            "iss": services.issuer(),
            "exp": expires_at.secs(),
            "auth_time": grant.auth_time.secs(),
            "acr": grant.level.acr(),
        }));
    }
    Ok(inactive())
}

fn inactive() -> Value {
    json!({ "active": false })
}

/// Revocation (RFC 7009): a refresh token revokes its whole family (and so the access tokens of
/// that login); an access token is revoked alone. Unknown tokens and other clients' tokens are
/// ignored, and the answer is the same.
pub async fn revoke(services: &Services, rp: &RelyingParty, token: &str) -> Result<(), StoreError> {
    if let Some((_, family, _)) = live_refresh_token(services, &rp.client_id, token).await? {
        return super::grants::revoke_family(services, &family).await;
    }
    match verify_access_token(services, token).await {
        Ok(c) if c.client_id == rp.client_id.as_str() => {
            super::grants::revoke_access(services, &c).await
        }
        Err(super::OAuthError::Store(e)) => Err(e),
        _ => Ok(()),
    }
}
