//! The back channel: PAR, the token endpoint (with DPoP), userinfo, introspection, revocation.

use super::*;

/// Pushed authorization requests (RFC 9126).
#[utoipa::path(post, path = "/oauth2/par", tag = "openid connect",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "The authorization request parameters"),
    security(("client_secret_basic" = []), ("private_key_jwt" = [])),
    responses((status = 201, description = "`{request_uri, expires_in}`"),
        (status = 400, description = "RFC 6749 error JSON"), (status = 401, description = "invalid_client"),
        (status = 429, description = "The client's quota for this minute is spent: RFC 6749 error JSON `temporarily_unavailable`, with `Retry-After`")))]
pub async fn par(state: State, client: OAuthClient<needs::AnyClient>) -> HttpResponse {
    match authorize::push(&state.services, &client.rp, &client.params).await {
        Ok(request_uri) => no_store(HttpResponse::Created())
            .json(json!({ "request_uri": request_uri, "expires_in": PAR_TTL.as_secs() })),
        Err(e) => oauth_error(&e),
    }
}

/// Decoupled authentication (OpenID CIBA Core §7, poll mode): a kiosk names the citizen, whose
/// app approves; the kiosk then polls the token endpoint with `auth_req_id`.
#[utoipa::path(post, path = "/oauth2/bc-authorize", tag = "openid connect",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "scope, login_hint (personal id) or login_hint_token, binding_message, acr_values, requested_expiry, authorization_details"),
    security(("client_secret_basic" = []), ("private_key_jwt" = [])),
    responses((status = 200, body = crate::oidc::ciba::BackchannelStarted),
        (status = 400, description = "RFC 6749 error JSON: invalid_request, invalid_scope, unknown_user_id, expired_login_hint_token, invalid_binding_message, invalid_authorization_details, unauthorized_client, unmet_authentication_requirements"),
        (status = 401, description = "invalid_client"), (status = 403, description = "access_denied"),
        (status = 429, description = "The client's quota for this minute is spent: RFC 6749 error JSON `temporarily_unavailable`, with `Retry-After`")))]
pub async fn backchannel_authorize(state: State, client: OAuthClient<needs::Ciba>) -> HttpResponse {
    match crate::oidc::ciba::start(&state.services, &client.rp, &client.params).await {
        Ok(started) => no_store(HttpResponse::Ok()).json(started),
        // CIBA §13: a refused request is 403 here (at the token endpoint it is a 400).
        Err(e @ OAuthError::AccessDenied(_)) => {
            let mut res = oauth_error(&e);
            *res.status_mut() = StatusCode::FORBIDDEN;
            res
        }
        Err(e) => oauth_error(&e),
    }
}

// ---------------------------------------------------------------------------------------------
// Token, userinfo, introspection, revocation

/// The token endpoint: `authorization_code` (with `code_verifier`) and `refresh_token`.
#[utoipa::path(post, path = "/oauth2/token", tag = "openid connect",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "grant_type=authorization_code (code, redirect_uri, code_verifier) or refresh_token"),
    security(("client_secret_basic" = []), ("private_key_jwt" = [])),
    responses((status = 200, body = crate::oidc::grants::TokenResponse),
        (status = 400, description = "RFC 6749 error JSON"), (status = 401, description = "invalid_client"),
        (status = 429, description = "The client's quota for this minute is spent: RFC 6749 error JSON `temporarily_unavailable`, with `Retry-After`")))]
pub async fn token_endpoint(
    state: State,
    req: HttpRequest,
    client: OAuthClient<needs::AnyClient>,
) -> HttpResponse {
    let result = async {
        let dpop_jkt = dpop_proof(&state, &req, discovery::TOKEN_PATH, None).await?;
        token::exchange(&state.services, &client.rp, &client.params, dpop_jkt).await
    }
    .await;
    match result {
        Ok(tokens) => no_store(HttpResponse::Ok()).json(tokens),
        Err(e) => oauth_error(&e),
    }
}

/// Checks the request's `DPoP` proof, if it has one (exactly one), and returns its key's
/// thumbprint.
async fn dpop_proof(
    state: &State,
    req: &HttpRequest,
    path: &str,
    access_token: Option<&str>,
) -> Result<Option<String>, OAuthError> {
    let mut proofs = req.headers().get_all("dpop");
    let Some(proof) = proofs.next() else {
        return Ok(None);
    };
    if proofs.next().is_some() {
        return Err(OAuthError::InvalidDpopProof("send one DPoP proof".into()));
    }
    let proof = proof
        .to_str()
        .map_err(|_| OAuthError::InvalidDpopProof("the DPoP header is not text".into()))?;
    let url = format!("{}{path}", state.services.issuer());
    let ctx = dpop::ProofContext {
        method: req.method().as_str(),
        url: &url,
        access_token,
    };
    Ok(Some(dpop::verify(&state.services, proof, &ctx).await?))
}

/// The access token of a request: `Authorization: Bearer …` or `DPoP …` (`true` for DPoP), or
/// an `access_token` form field.
fn access_token(req: &HttpRequest, body: Option<&Params>) -> Option<(String, bool)> {
    let header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '));
    match header {
        Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") => {
            Some((t.trim().to_owned(), false))
        }
        Some((scheme, t)) if scheme.eq_ignore_ascii_case("dpop") => {
            Some((t.trim().to_owned(), true))
        }
        Some(_) => None,
        None => body
            .and_then(|p| p.get("access_token"))
            .map(|t| (t.to_owned(), false)),
    }
}

/// Userinfo (OpenID Connect Core §5.3) for a valid access token in the `Authorization` header
/// (`Bearer`, or `DPoP` with a proof).
#[utoipa::path(get, path = "/oauth2/userinfo", tag = "openid connect", security(("access_token" = [])),
    responses((status = 200, description = "The claims of the granted scopes"),
        (status = 401, description = "invalid_token")))]
pub async fn userinfo_get(state: State, req: HttpRequest) -> HttpResponse {
    userinfo_endpoint(state, req, web::Bytes::new()).await
}

/// Userinfo by POST: the access token in the header, or as the form field `access_token`
/// (RFC 6750 §2.2).
#[utoipa::path(post, path = "/oauth2/userinfo", tag = "openid connect", security(("access_token" = [])),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "Empty, or access_token=…"),
    responses((status = 200, description = "The claims of the granted scopes"),
        (status = 401, description = "invalid_token")))]
pub async fn userinfo_post(state: State, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    userinfo_endpoint(state, req, body).await
}

async fn userinfo_endpoint(state: State, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let form = if body.is_empty() {
        None
    } else {
        form_params(&body).ok()
    };
    let Some((token, dpop_scheme)) = access_token(&req, form.as_ref()) else {
        return oauth_error_at(&OAuthError::InvalidToken, true);
    };
    let jkt = match dpop_proof(&state, &req, discovery::USERINFO_PATH, Some(&token)).await {
        Ok(jkt) => jkt,
        Err(e) => return oauth_error_at(&e, true),
    };
    // The DPoP scheme needs a proof, and a proof needs the DPoP scheme.
    if dpop_scheme != jkt.is_some() {
        return oauth_error_at(&OAuthError::InvalidToken, true);
    }
    match userinfo::userinfo(&state.services, &token, jkt.as_deref()).await {
        Ok(claims) => no_store(HttpResponse::Ok()).json(claims),
        Err(e) => oauth_error_at(&e, true),
    }
}

/// Token introspection (RFC 7662) for the authenticated client's own tokens.
#[utoipa::path(post, path = "/oauth2/introspect", tag = "openid connect",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "token=…"),
    security(("client_secret_basic" = []), ("private_key_jwt" = [])),
    responses((status = 200, description = "`{active: true, …}` or `{active: false}`"),
        (status = 401, description = "invalid_client"),
        (status = 429, description = "The client's quota for this minute is spent: RFC 6749 error JSON `temporarily_unavailable`, with `Retry-After`")))]
pub async fn introspect(state: State, client: OAuthClient<needs::AnyClient>) -> HttpResponse {
    let result = async {
        let token = client
            .params
            .require("token")
            .map_err(OAuthError::InvalidRequest)?;
        Ok::<_, OAuthError>(introspection::introspect(&state.services, &client.rp, token).await?)
    }
    .await;
    match result {
        Ok(answer) => no_store(HttpResponse::Ok()).json(answer),
        Err(e) => oauth_error(&e),
    }
}

/// Token revocation (RFC 7009). Always `200` for a well-formed request.
#[utoipa::path(post, path = "/oauth2/revoke", tag = "openid connect",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "token=…"),
    security(("client_secret_basic" = []), ("private_key_jwt" = [])),
    responses((status = 200, description = "Revoked, or nothing to revoke"),
        (status = 401, description = "invalid_client"),
        (status = 429, description = "The client's quota for this minute is spent: RFC 6749 error JSON `temporarily_unavailable`, with `Retry-After`")))]
pub async fn revoke(state: State, client: OAuthClient<needs::AnyClient>) -> HttpResponse {
    let result = async {
        let token = client
            .params
            .require("token")
            .map_err(OAuthError::InvalidRequest)?;
        Ok::<_, OAuthError>(introspection::revoke(&state.services, &client.rp, token).await?)
    }
    .await;
    match result {
        Ok(()) => no_store(HttpResponse::Ok()).finish(),
        Err(e) => oauth_error(&e),
    }
}
