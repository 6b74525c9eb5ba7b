//! The token endpoint's grants, as a typed request (`grant_type` decides the variant).

use super::grants::{self, TokenResponse};
use super::{OAuthError, Params};
use crate::relying_parties::RelyingParty;
use crate::services::Services;

/// A token request, parsed.
#[derive(Debug)]
pub enum TokenRequest<'a> {
    AuthorizationCode {
        code: &'a str,
        redirect_uri: Option<&'a str>,
        code_verifier: Option<&'a str>,
    },
    RefreshToken {
        refresh_token: &'a str,
        scope: Option<&'a str>,
    },
    /// OpenID CIBA Core §10.1: polling for a decoupled authentication.
    Ciba { auth_req_id: &'a str },
}

impl<'a> TokenRequest<'a> {
    pub fn parse(p: &'a Params) -> Result<Self, OAuthError> {
        match p.get("grant_type") {
            Some("authorization_code") => Ok(TokenRequest::AuthorizationCode {
                code: p.require("code").map_err(OAuthError::InvalidRequest)?,
                redirect_uri: p.get("redirect_uri"),
                code_verifier: p.get("code_verifier"),
            }),
            Some("refresh_token") => Ok(TokenRequest::RefreshToken {
                refresh_token: p
                    .require("refresh_token")
                    .map_err(OAuthError::InvalidRequest)?,
                scope: p.get("scope"),
            }),
            Some(super::ciba::GRANT_TYPE) => Ok(TokenRequest::Ciba {
                auth_req_id: p
                    .require("auth_req_id")
                    .map_err(OAuthError::InvalidRequest)?,
            }),
            Some(_) => Err(OAuthError::UnsupportedGrantType),
            None => Err(OAuthError::invalid_request("grant_type is required")),
        }
    }
}

/// Runs a token request for an authenticated client.
pub async fn exchange(
    services: &Services,
    rp: &RelyingParty,
    p: &Params,
    dpop_jkt: Option<String>,
) -> Result<TokenResponse, OAuthError> {
    super::same_client(p, rp)?;
    let request = TokenRequest::parse(p)?;
    let grant_type = match request {
        TokenRequest::AuthorizationCode { .. } => "authorization_code",
        TokenRequest::RefreshToken { .. } => "refresh_token",
        TokenRequest::Ciba { .. } => super::ciba::GRANT_TYPE,
    };
    let issued = match request {
        TokenRequest::AuthorizationCode {
            code,
            redirect_uri,
            code_verifier,
        } => grants::redeem_code(services, rp, code, redirect_uri, code_verifier, dpop_jkt).await,
        TokenRequest::RefreshToken {
            refresh_token,
            scope,
        } => grants::refresh(services, rp, refresh_token, scope, dpop_jkt).await,
        TokenRequest::Ciba { auth_req_id } => {
            super::ciba::collect(services, rp, auth_req_id, dpop_jkt).await
        }
    }?;
    services
        .metrics
        .tokens_issued
        .with_label_values(&[grant_type])
        .inc();
    Ok(issued)
}
