//! Dynamic client registration (RFC 7591) and its management through the registration access
//! token (RFC 7592), mapped onto the relying-party registry
//! ([`crate::relying_parties::management`]).
//!
//! In dev (the sandbox) anyone may register: the client is marked `sandbox` — refused in
//! production, like the shipped ones — and gets only sandbox permissions. In production a
//! registration needs an initial access token an operator issued (single use).
//!
//! Metadata is checked strictly: redirect URIs absolute, without fragment, https (or http on a
//! loopback address in the sandbox); a confidential client only (`client_secret_basic`, or
//! `private_key_jwt` with an Ed25519 or P-256 key in `jwks`); the grant and response types this
//! provider has. Metadata it does not understand is ignored (RFC 7591 §2); metadata it
//! understands but does not offer is refused with `invalid_client_metadata`.

use std::collections::BTreeSet;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::OAuthError;
use super::claims::Scope;
use crate::relying_parties::management::{
    self, ManagementError, RegistrationRequest, SANDBOX_PERMISSIONS,
};
use crate::relying_parties::{
    ClaimName, ClientAuthentication, IdTokenAlg, Permission, RegisteredKey, RegistrationSource,
    RelyingParty,
};
use crate::services::Services;

pub const REGISTRATION_PATH: &str = "/oauth2/register";

/// The scope a client gets when it names none.
const DEFAULT_SCOPE: &str = "openid profile birthdate address phone";

/// RFC 7591 §2 client metadata, as far as this provider reads it.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct ClientMetadata {
    #[serde(default)]
    pub redirect_uris: Option<Vec<String>>,
    #[serde(default)]
    pub post_logout_redirect_uris: Option<Vec<String>>,
    #[serde(default)]
    pub token_endpoint_auth_method: Option<String>,
    #[serde(default)]
    pub grant_types: Option<Vec<String>>,
    #[serde(default)]
    pub response_types: Option<Vec<String>>,
    #[serde(default)]
    pub client_name: Option<String>,
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub jwks: Option<Value>,
    #[serde(default)]
    pub jwks_uri: Option<String>,
    #[serde(default)]
    pub id_token_signed_response_alg: Option<String>,
    #[serde(default)]
    pub subject_type: Option<String>,
    #[serde(default)]
    pub token_endpoint_auth_signing_alg: Option<String>,
    #[serde(default)]
    pub userinfo_signed_response_alg: Option<String>,
    #[serde(default)]
    pub request_object_signing_alg: Option<String>,
    #[serde(default)]
    pub id_token_encrypted_response_alg: Option<String>,
    #[serde(default)]
    pub userinfo_encrypted_response_alg: Option<String>,
    #[serde(default)]
    pub sector_identifier_uri: Option<String>,
    /// RFC 7592 updates repeat the client's id (and may repeat its secret).
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub client_secret: Option<SecretString>,
}

/// The registration answer (RFC 7591 §3.2.1) and the read answer (RFC 7592 §3).
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ClientInformation {
    pub client_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    pub client_id_issued_at: i64,
    /// 0: the secret does not expire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_expires_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_access_token: Option<String>,
    pub registration_client_uri: String,
    pub client_name: String,
    pub redirect_uris: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub response_types: Vec<String>,
    pub token_endpoint_auth_method: String,
    pub id_token_signed_response_alg: String,
    pub subject_type: String,
    pub scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub jwks: Option<Value>,
}

fn metadata_error(detail: impl Into<String>) -> OAuthError {
    OAuthError::InvalidClientMetadata(detail.into())
}

fn refuse_if_set(value: &Option<String>, name: &str, allowed: &[&str]) -> Result<(), OAuthError> {
    match value {
        Some(v) if !allowed.contains(&v.as_str()) => Err(metadata_error(format!(
            "{name} `{v}` is not supported{}",
            if allowed.is_empty() {
                String::new()
            } else {
                format!(" (supported: {})", allowed.join(", "))
            }
        ))),
        _ => Ok(()),
    }
}

/// What the metadata asks for, as a registration request (and the claims its scope names).
fn to_request(m: ClientMetadata, sandbox: bool) -> Result<RegistrationRequest, OAuthError> {
    const GRANTS: [&str; 3] = [
        "authorization_code",
        "refresh_token",
        super::ciba::GRANT_TYPE,
    ];
    let grants = m
        .grant_types
        .clone()
        .unwrap_or_else(|| vec!["authorization_code".into()]);
    if let Some(g) = grants.iter().find(|g| !GRANTS.contains(&g.as_str())) {
        return Err(metadata_error(format!(
            "grant type `{g}` is not supported (supported: {})",
            GRANTS.join(", ")
        )));
    }
    if let Some(r) = m
        .response_types
        .iter()
        .flatten()
        .find(|r| r.as_str() != "code")
    {
        return Err(metadata_error(format!(
            "response type `{r}` is not supported (only `code`)"
        )));
    }
    refuse_if_set(&m.subject_type, "subject_type", &["pairwise"])?;
    refuse_if_set(&m.jwks_uri, "jwks_uri", &[])?;
    refuse_if_set(&m.sector_identifier_uri, "sector_identifier_uri", &[])?;
    refuse_if_set(
        &m.userinfo_signed_response_alg,
        "userinfo_signed_response_alg",
        &[],
    )?;
    refuse_if_set(
        &m.request_object_signing_alg,
        "request_object_signing_alg",
        &[],
    )?;
    refuse_if_set(
        &m.id_token_encrypted_response_alg,
        "id_token_encrypted_response_alg",
        &[],
    )?;
    refuse_if_set(
        &m.userinfo_encrypted_response_alg,
        "userinfo_encrypted_response_alg",
        &[],
    )?;
    refuse_if_set(
        &m.token_endpoint_auth_signing_alg,
        "token_endpoint_auth_signing_alg",
        &crate::tokens::client_keys::ClientAlg::NAMES,
    )?;
    let alg = match m.id_token_signed_response_alg.as_deref() {
        None | Some("EdDSA") => IdTokenAlg::EdDSA,
        Some("RS256") => IdTokenAlg::RS256,
        Some(other) => {
            return Err(metadata_error(format!(
                "id_token_signed_response_alg `{other}` is not supported (EdDSA, RS256)"
            )));
        }
    };
    let public_key = match m
        .token_endpoint_auth_method
        .as_deref()
        .unwrap_or("client_secret_basic")
    {
        "client_secret_basic" => {
            if m.jwks.is_some() {
                return Err(metadata_error(
                    "jwks is for private_key_jwt clients; this one uses client_secret_basic",
                ));
            }
            None
        }
        "private_key_jwt" => {
            let keys = m
                .jwks
                .as_ref()
                .and_then(|j| j.get("keys"))
                .and_then(Value::as_array)
                .filter(|k| k.len() == 1)
                .ok_or_else(|| {
                    metadata_error("private_key_jwt needs jwks holding exactly one public key")
                })?;
            let key = RegisteredKey::Jwk(public_member(&keys[0]));
            key.key()
                .map_err(|e| metadata_error(format!("jwks: {e}")))?;
            Some(key)
        }
        other => {
            return Err(metadata_error(format!(
                "token_endpoint_auth_method `{other}` is not supported (client_secret_basic, private_key_jwt)"
            )));
        }
    };
    let redirect_uris = m.redirect_uris.unwrap_or_default();
    if grants.iter().any(|g| g == "authorization_code") && redirect_uris.is_empty() {
        return Err(OAuthError::InvalidRedirectUri(
            "redirect_uris is required for the authorization_code grant".into(),
        ));
    }
    for uri in redirect_uris
        .iter()
        .chain(m.post_logout_redirect_uris.iter().flatten())
    {
        management::check_redirect_uri(uri, sandbox).map_err(OAuthError::InvalidRedirectUri)?;
    }
    let scope = m.scope.as_deref().unwrap_or(DEFAULT_SCOPE);
    let allowed_claims: BTreeSet<ClaimName> = scope
        .split(' ')
        .filter_map(|s| serde_json::from_value::<Scope>(Value::String(s.to_owned())).ok())
        .flat_map(|s| s.registry_claims().iter().copied())
        .collect();
    let mut permissions = BTreeSet::from([Permission::Verify]);
    if grants.iter().any(|g| g == super::ciba::GRANT_TYPE) {
        permissions.insert(Permission::Ciba);
    }
    // Nobody vetted a dynamic client: never more than the sandbox's permissions.
    permissions.retain(|p| SANDBOX_PERMISSIONS.contains(p));
    Ok(RegistrationRequest {
        client_id: None,
        name: m
            .client_name
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| "Dynamically registered client".into()),
        sector: None,
        redirect_uris,
        post_logout_redirect_uris: m.post_logout_redirect_uris.unwrap_or_default(),
        permissions,
        min_level: crate::domain::Level::One,
        min_auth_level: crate::domain::AuthLevel::ONE,
        allowed_claims,
        age_over: BTreeSet::new(),
        id_token_signed_response_alg: alg,
        public_key,
        kiosk_public_key: None,
        rate_quota_per_minute: None,
        match_records_per_minute: None,
        step_up: Vec::new(),
        sandbox,
    })
}

/// A JWK with only its public members (a client may send `kid`, `use`, `alg` too).
fn public_member(jwk: &Value) -> Value {
    let mut out = serde_json::Map::new();
    for member in ["kty", "crv", "x", "y", "d", "kid"] {
        if let Some(v) = jwk.get(member) {
            out.insert(member.to_owned(), v.clone());
        }
    }
    Value::Object(out)
}

fn from_management(e: ManagementError) -> OAuthError {
    match e {
        ManagementError::Invalid(detail) => OAuthError::InvalidClientMetadata(detail),
        ManagementError::Store(s) => OAuthError::Store(s),
        other => OAuthError::InvalidClientMetadata(other.to_string()),
    }
}

/// The client's information as the registry now holds it.
fn information(services: &Services, rp: &RelyingParty) -> ClientInformation {
    let (method, jwks) = match &rp.authentication {
        ClientAuthentication::ClientSecretBasic { .. } => ("client_secret_basic", None),
        ClientAuthentication::PrivateKeyJwt { public_key } => (
            "private_key_jwt",
            match public_key {
                RegisteredKey::Jwk(jwk) => Some(serde_json::json!({ "keys": [jwk] })),
                RegisteredKey::Ed25519(x) => Some(serde_json::json!({ "keys": [
                    { "kty": "OKP", "crv": "Ed25519", "x": x }
                ] })),
            },
        ),
    };
    let mut grant_types = vec!["authorization_code".to_owned(), "refresh_token".to_owned()];
    if rp.may(Permission::Ciba) {
        grant_types.push(super::ciba::GRANT_TYPE.to_owned());
    }
    let scopes: Vec<String> = std::iter::once("openid".to_owned())
        .chain(
            Scope::ALL
                .iter()
                .filter(|s| {
                    s.registry_claims()
                        .iter()
                        .any(|c| rp.allowed_claims.contains(c))
                })
                .map(|s| s.name().into_owned()),
        )
        .collect();
    ClientInformation {
        client_id: rp.client_id.to_string(),
        client_secret: None,
        client_id_issued_at: rp.client_id_issued_at,
        client_secret_expires_at: None,
        registration_access_token: None,
        registration_client_uri: format!(
            "{}{REGISTRATION_PATH}/{}",
            services.issuer(),
            rp.client_id
        ),
        client_name: rp.name.clone(),
        redirect_uris: rp.redirect_uris.clone(),
        post_logout_redirect_uris: rp.post_logout_redirect_uris.clone(),
        grant_types,
        response_types: vec!["code".into()],
        token_endpoint_auth_method: method.into(),
        id_token_signed_response_alg: match rp.id_token_signed_response_alg {
            IdTokenAlg::EdDSA => "EdDSA".into(),
            IdTokenAlg::RS256 => "RS256".into(),
        },
        subject_type: "pairwise".into(),
        scope: scopes.join(" "),
        jwks,
    }
}

/// RFC 7591 §3: registers a client. `initial_access_token` is required in production and, when
/// sent, must be a live one anywhere.
pub async fn register(
    services: &Services,
    initial_access_token: Option<&str>,
    metadata: ClientMetadata,
) -> Result<ClientInformation, OAuthError> {
    let sandbox = services.settings.is_dev();
    let admitted = match initial_access_token {
        Some(token) => management::consume_initial_access_token(services, token).await?,
        None => sandbox,
    };
    if !admitted {
        return Err(OAuthError::InvalidToken);
    }
    if metadata.client_id.is_some() || metadata.client_secret.is_some() {
        return Err(metadata_error(
            "client_id and client_secret are chosen by the gateway",
        ));
    }
    let request = to_request(metadata, sandbox)?;
    let issued = management::create(
        services,
        "dynamic-registration",
        RegistrationSource::Dynamic,
        request,
    )
    .await
    .map_err(from_management)?;
    let mut info = information(services, &issued.registration);
    info.client_secret = issued
        .client_secret
        .as_ref()
        .map(|s| management::reveal(s).to_owned());
    info.client_secret_expires_at = info.client_secret.as_ref().map(|_| 0);
    info.registration_access_token = issued
        .registration_access_token
        .as_ref()
        .map(|s| management::reveal(s).to_owned());
    Ok(info)
}

/// The dynamically registered client `client_id`, if `token` is its registration access token;
/// an unknown client and a wrong token look the same.
async fn managed_by(
    services: &Services,
    client_id: &str,
    token: &str,
) -> Result<RelyingParty, OAuthError> {
    let rp = management::show(services, client_id)
        .await
        .map_err(|e| match e {
            ManagementError::Store(s) => OAuthError::Store(s),
            _ => OAuthError::InvalidToken,
        })?;
    if rp.source != RegistrationSource::Dynamic
        || rp.disabled
        || !management::holds_registration_token(&rp, token)
    {
        return Err(OAuthError::InvalidToken);
    }
    Ok(rp)
}

/// RFC 7592 §2.1: the client reads its registration.
pub async fn read(
    services: &Services,
    client_id: &str,
    token: &str,
) -> Result<ClientInformation, OAuthError> {
    let rp = managed_by(services, client_id, token).await?;
    Ok(information(services, &rp))
}

/// RFC 7592 §2.2: the client replaces its metadata (its id and credentials stay).
pub async fn update(
    services: &Services,
    client_id: &str,
    token: &str,
    metadata: ClientMetadata,
) -> Result<ClientInformation, OAuthError> {
    let current = managed_by(services, client_id, token).await?;
    if metadata.client_id.as_deref() != Some(client_id) {
        return Err(metadata_error(
            "client_id must be sent, and be this client's",
        ));
    }
    if let (Some(sent), ClientAuthentication::ClientSecretBasic { secret_sha256 }) =
        (&metadata.client_secret, &current.authentication)
        && management::digest(secrecy::ExposeSecret::expose_secret(sent)) != *secret_sha256
    {
        return Err(metadata_error("client_secret is not this client's"));
    }
    let keep_key = match (
        &metadata.token_endpoint_auth_method,
        &current.authentication,
    ) {
        (None, ClientAuthentication::PrivateKeyJwt { .. }) => true,
        (Some(m), ClientAuthentication::ClientSecretBasic { .. }) if m != "client_secret_basic" => {
            return Err(metadata_error(
                "token_endpoint_auth_method cannot change after registration",
            ));
        }
        (Some(m), ClientAuthentication::PrivateKeyJwt { .. }) if m != "private_key_jwt" => {
            return Err(metadata_error(
                "token_endpoint_auth_method cannot change after registration",
            ));
        }
        _ => false,
    };
    let mut metadata = metadata;
    metadata.client_id = None;
    metadata.client_secret = None;
    let mut request = to_request(metadata, current.sandbox)?;
    let new_key = request.public_key.take();
    let actor = format!("client:{client_id}");
    let mut rp = management::update(services, &actor, client_id, request)
        .await
        .map_err(from_management)?;
    if let (Some(key), false) = (new_key, keep_key) {
        rp = management::replace_key(services, &actor, client_id, key)
            .await
            .map_err(from_management)?;
    }
    Ok(information(services, &rp))
}

/// RFC 7592 §2.3: the client deregisters; it cannot authenticate from now on.
pub async fn delete(services: &Services, client_id: &str, token: &str) -> Result<(), OAuthError> {
    managed_by(services, client_id, token).await?;
    management::set_disabled(services, &format!("client:{client_id}"), client_id, true)
        .await
        .map_err(from_management)?;
    Ok(())
}
