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

fn hinted_client(services: &Services, token: &str) -> Option<String> {
    let header = jws::inspect_header(token).ok()?;
    if header.typ.as_deref() != Some(super::ID_TOKEN_TYP) {
        return None;
    }
    let keyring = services.keyring.load();
    let key = keyring.decoding_key(header.kid.as_deref()?)?;
    let claims: serde_json::Value = jws::verify_eddsa(token, key).ok()?;
    if claims["iss"] != services.issuer() {
        return None;
    }
    claims["aud"].as_str().map(str::to_owned)
}
