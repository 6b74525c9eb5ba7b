//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): ends the browser's session and
//! returns to the client only at a registered `post_logout_redirect_uri`.

use super::Params;
use crate::domain::ClientId;
use crate::services::Services;
use crate::tokens::jws;

/// Where to send the browser after logout, if anywhere: the registered URI with `state`.
pub async fn return_to(services: &Services, p: &Params) -> Option<String> {
    let uri = p.get("post_logout_redirect_uri")?;
    // The client: `client_id`, or the audience of an ID token this gateway signed (it may have
    // expired: that is normal at logout).
    let from_hint = p
        .get("id_token_hint")
        .and_then(|t| hinted_client(services, t));
    let client = match (p.get("client_id"), from_hint) {
        (Some(c), Some(h)) if c != h => return None,
        (Some(c), _) => c.to_owned(),
        (None, Some(h)) => h,
        (None, None) => return None,
    };
    let rp = services
        .relying_parties
        .get(&ClientId::parse(&client).ok()?)
        .await
        .ok()??;
    if !rp.post_logout_redirect_uris.iter().any(|r| r == uri) {
        return None;
    }
    let mut q = form_urlencoded::Serializer::new(String::new());
    if let Some(s) = p.get("state") {
        q.append_pair("state", s);
    }
    let query = q.finish();
    Some(if query.is_empty() {
        uri.to_owned()
    } else {
        let sep = if uri.contains('?') { '&' } else { '?' };
        format!("{uri}{sep}{query}")
    })
}

/// The client an `id_token_hint` names, if it is an ID token this gateway signed (expired or
/// not). A valid hint is the relying party's proof that the logout comes from it; without one
/// the citizen is asked to confirm (RP-Initiated Logout 1.0 §2), so a cross-site link cannot
/// sign a browser out.
pub fn hinted_client(services: &Services, token: &str) -> Option<String> {
    let header = jws::inspect_id_token_hint(token).ok()?;
    if header.typ.as_deref() != Some(super::ID_TOKEN_TYP) {
        return None;
    }
    let keyring = services.keyring.load();
    let kid = header.kid.as_deref()?;
    let claims: serde_json::Value = match header.alg.as_str() {
        "RS256" => jws::verify_rs256_hint(token, keyring.id_token_hint_key(kid)?).ok()?,
        _ => keyring.verify(token).ok()?.claims().ok()?,
    };
    if claims["iss"] != services.issuer() {
        return None;
    }
    claims["aud"].as_str().map(str::to_owned)
}

/// The parameters a logout confirmation carries over to its form.
pub const CARRIED: [&str; 3] = ["client_id", "post_logout_redirect_uri", "state"];

/// The confirmation form's token: bound to the browser's session cookie, which another site can
/// neither read nor set, so only a page of ours in that browser can present it.
pub fn confirmation_token(session_cookie: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("eid-gateway logout confirmation\n{session_cookie}"));
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
}

/// Whether a submitted confirmation token is this browser's.
pub fn confirmed(session_cookie: &str, token: &str) -> bool {
    use subtle::ConstantTimeEq;
    confirmation_token(session_cookie)
        .as_bytes()
        .ct_eq(token.as_bytes())
        .into()
}
