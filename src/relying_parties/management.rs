//! Registering and managing relying parties without touching the gateway's files: the operator
//! API (and `eidgw rp register`) and dynamic client registration (RFC 7591/7592) both come here.
//!
//! A client secret is generated (256 random bits), handed out once and kept only as its
//! SHA-256; so is a dynamic client's registration access token. Registrations from the registry
//! file stay read-only here: the file is their source of truth. Every change is audited, never
//! with a secret in it.

use std::collections::BTreeSet;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::registration::{RegisteredKey, RegistrationSource};
use super::{ClaimName, ClientAuthentication, IdTokenAlg, Permission, RelyingParty, StepUpRule};
use crate::audit::AuditKind;
use crate::challenges::random_token;
use crate::domain::{AuthLevel, ClientId, Level};
use crate::services::Services;
use crate::store::StoreError;

/// What a registration says about a relying party, apart from its credentials.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistrationRequest {
    /// Chosen by the gateway (`rp-…`) when omitted.
    #[serde(default)]
    pub client_id: Option<String>,
    pub name: String,
    /// Relying parties of one sector see the same pairwise `sub`. Default: the host of the first
    /// redirect URI, or the client id.
    #[serde(default)]
    pub sector: Option<String>,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub permissions: BTreeSet<Permission>,
    #[serde(default = "level_one")]
    pub min_level: Level,
    #[serde(default = "auth_level_one")]
    pub min_auth_level: AuthLevel,
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub allowed_claims: BTreeSet<ClaimName>,
    #[serde(default)]
    pub age_over: BTreeSet<u8>,
    #[serde(default)]
    #[schema(value_type = String)]
    pub id_token_signed_response_alg: IdTokenAlg,
    /// For `private_key_jwt`: an Ed25519 public key (base64url) or a public JWK (Ed25519 or
    /// P-256). Without one the client gets a generated secret (`client_secret_basic`).
    #[serde(default)]
    /// An Ed25519 public key (base64url) or a public JWK (Ed25519 or P-256).
    #[schema(value_type = Option<serde_json::Value>)]
    pub public_key: Option<RegisteredKey>,
    /// The kiosk that signs live face captures for the chip API (Ed25519, base64url).
    #[serde(default)]
    pub kiosk_public_key: Option<String>,
    /// Requests per minute (default 600).
    #[serde(default, deserialize_with = "crate::domain::whole_number::optional")]
    #[schema(minimum = 1, maximum = 1_000_000)]
    pub rate_quota_per_minute: Option<u32>,
    /// Attribute-match records per minute (default 1,000,000).
    #[serde(default, deserialize_with = "crate::domain::whole_number::optional")]
    #[schema(minimum = 1, maximum = 100_000_000)]
    pub match_records_per_minute: Option<u32>,
    #[serde(default)]
    pub step_up: Vec<StepUpRule>,
    /// A sandbox client (refused in production mode).
    #[serde(default)]
    pub sandbox: bool,
}

fn level_one() -> Level {
    Level::One
}

fn auth_level_one() -> AuthLevel {
    AuthLevel::ONE
}

/// The permissions a client may hold when nobody vetted it (dynamic registration in the
/// sandbox): everything but bulk matching.
pub const SANDBOX_PERMISSIONS: [Permission; 4] = [
    Permission::Verify,
    Permission::ChipVerify,
    Permission::Match,
    Permission::Ciba,
];

const DEFAULT_RATE_QUOTA: u32 = 600;

#[derive(Debug, thiserror::Error)]
pub enum ManagementError {
    #[error("no relying party {0}")]
    NotFound(String),
    #[error("client_id {0} is taken")]
    Taken(ClientId),
    #[error(
        "{0} is registered in the relying-party file, which is its source of truth: change it there"
    )]
    FromFile(ClientId),
    #[error("{0}")]
    Invalid(String),
    #[error("{0} has no client secret: it authenticates with private_key_jwt")]
    NoSecret(ClientId),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A registration just made, with its credentials — the only time they are shown.
pub struct Issued {
    pub registration: RelyingParty,
    pub client_secret: Option<SecretString>,
    pub registration_access_token: Option<SecretString>,
}

pub fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn new_client_id() -> Result<ClientId, StoreError> {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).map_err(|e| StoreError::Storage(format!("no randomness: {e}")))?;
    ClientId::parse(&format!("rp-{}", hex::encode(b)))
        .map_err(|e| StoreError::Storage(e.to_string()))
}

/// The host of a redirect URI, as the default sector (OpenID Connect Core §8.1).
fn host_of(uri: &str) -> Option<String> {
    url::Url::parse(uri)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Redirect URIs as RFC 7591 §2 and RFC 9700 §4.1 want them: absolute, no fragment, https —
/// or plain http on a loopback address for a sandbox client.
pub fn check_redirect_uri(uri: &str, sandbox: bool) -> Result<(), String> {
    let parsed = url::Url::parse(uri).map_err(|_| format!("{uri} is not an absolute URI"))?;
    if parsed.fragment().is_some() || uri.contains('#') {
        return Err(format!("{uri} has a fragment"));
    }
    if uri.contains('*') {
        return Err(format!("{uri} has a wildcard: redirect URIs match exactly"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(format!("{uri} carries credentials"));
    }
    let host = parsed.host_str().unwrap_or_default();
    match parsed.scheme() {
        "https" if !host.is_empty() => Ok(()),
        "http" if sandbox && is_loopback(host) => Ok(()),
        "http" if is_loopback(host) => Err(format!(
            "{uri}: plain http (loopback) is for sandbox clients; use https"
        )),
        _ => Err(format!(
            "{uri} must be https (or http on loopback in the sandbox)"
        )),
    }
}

fn build(
    services: &Services,
    id: ClientId,
    req: RegistrationRequest,
    authentication: ClientAuthentication,
    source: RegistrationSource,
) -> Result<RelyingParty, ManagementError> {
    if req.sandbox && !services.settings.is_dev() {
        return Err(ManagementError::Invalid(
            "sandbox clients are refused in production mode".into(),
        ));
    }
    if req
        .rate_quota_per_minute
        .is_some_and(|q| !(1..=1_000_000).contains(&q))
    {
        return Err(ManagementError::Invalid(
            "rate_quota_per_minute is 1 to 1,000,000".into(),
        ));
    }
    if req
        .match_records_per_minute
        .is_some_and(|q| !(1..=100_000_000).contains(&q))
    {
        return Err(ManagementError::Invalid(
            "match_records_per_minute is 1 to 100,000,000".into(),
        ));
    }
    for uri in req
        .redirect_uris
        .iter()
        .chain(&req.post_logout_redirect_uris)
    {
        check_redirect_uri(uri, req.sandbox).map_err(ManagementError::Invalid)?;
    }
    let sector = req
        .sector
        .filter(|s| !s.trim().is_empty())
        .or_else(|| req.redirect_uris.first().and_then(|u| host_of(u)))
        .unwrap_or_else(|| id.to_string());
    let rp = RelyingParty {
        client_id: id,
        name: req.name.trim().to_owned(),
        sector,
        authentication,
        redirect_uris: req.redirect_uris,
        id_token_signed_response_alg: req.id_token_signed_response_alg,
        post_logout_redirect_uris: req.post_logout_redirect_uris,
        allowed_claims: req.allowed_claims,
        age_over: req.age_over,
        min_level: req.min_level,
        min_auth_level: req.min_auth_level,
        step_up: req.step_up,
        permissions: req.permissions,
        rate_quota_per_minute: req.rate_quota_per_minute.unwrap_or(DEFAULT_RATE_QUOTA),
        match_records_per_minute: req.match_records_per_minute.unwrap_or(1_000_000),
        kiosk_public_key: req.kiosk_public_key,
        sandbox: req.sandbox,
        disabled: false,
        source,
        registration_access_token_sha256: None,
        client_id_issued_at: services.clock.now().secs(),
    };
    rp.validate().map_err(ManagementError::Invalid)?;
    Ok(rp)
}

async fn audit(
    services: &Services,
    kind: AuditKind,
    actor: &str,
    rp: &RelyingParty,
) -> Result<(), StoreError> {
    services
        .audit
        .record(
            kind,
            actor,
            json!({ "client_id": rp.client_id.as_str(), "name": rp.name, "source": rp.source, "sandbox": rp.sandbox }),
        )
        .await
        .map(|_| ())
}

/// Registers a new relying party: a secret is generated unless the request names a public key,
/// and a dynamic client also gets its registration access token.
pub async fn create(
    services: &Services,
    actor: &str,
    source: RegistrationSource,
    req: RegistrationRequest,
) -> Result<Issued, ManagementError> {
    let id = match &req.client_id {
        Some(c) => ClientId::parse(c).map_err(|e| ManagementError::Invalid(e.to_string()))?,
        None => new_client_id()?,
    };
    let (authentication, client_secret) = match &req.public_key {
        Some(key) => (
            ClientAuthentication::PrivateKeyJwt {
                public_key: key.clone(),
            },
            None,
        ),
        None => {
            let secret = random_token()?;
            (
                ClientAuthentication::ClientSecretBasic {
                    secret_sha256: digest(&secret),
                },
                Some(SecretString::from(secret)),
            )
        }
    };
    let mut rp = build(services, id, req, authentication, source)?;
    let registration_access_token = if source == RegistrationSource::Dynamic {
        let token = random_token()?;
        rp.registration_access_token_sha256 = Some(digest(&token));
        Some(SecretString::from(token))
    } else {
        None
    };
    if !services.relying_parties.create(&rp).await? {
        return Err(ManagementError::Taken(rp.client_id));
    }
    audit(services, AuditKind::RelyingPartyRegistered, actor, &rp).await?;
    Ok(Issued {
        registration: rp,
        client_secret,
        registration_access_token,
    })
}

async fn managed(services: &Services, id: &str) -> Result<RelyingParty, ManagementError> {
    let client_id = ClientId::parse(id).map_err(|_| ManagementError::NotFound(id.to_owned()))?;
    let rp = services
        .relying_parties
        .get(&client_id)
        .await?
        .ok_or_else(|| ManagementError::NotFound(id.to_owned()))?;
    if rp.source == RegistrationSource::File {
        return Err(ManagementError::FromFile(rp.client_id));
    }
    Ok(rp)
}

/// A registration, whatever its source.
pub async fn show(services: &Services, id: &str) -> Result<RelyingParty, ManagementError> {
    let client_id = ClientId::parse(id).map_err(|_| ManagementError::NotFound(id.to_owned()))?;
    services
        .relying_parties
        .get(&client_id)
        .await?
        .ok_or_else(|| ManagementError::NotFound(id.to_owned()))
}

/// Replaces what a registration says, keeping its client id and credentials.
pub async fn update(
    services: &Services,
    actor: &str,
    id: &str,
    mut req: RegistrationRequest,
) -> Result<RelyingParty, ManagementError> {
    let current = managed(services, id).await?;
    if req
        .client_id
        .as_deref()
        .is_some_and(|c| c != current.client_id.as_str())
    {
        return Err(ManagementError::Invalid("client_id cannot change".into()));
    }
    if req.public_key.is_some() {
        return Err(ManagementError::Invalid(
            "replace the public key on its own (PUT …/public-key)".into(),
        ));
    }
    req.client_id = None;
    let mut rp = build(
        services,
        current.client_id.clone(),
        req,
        current.authentication.clone(),
        current.source,
    )?;
    rp.disabled = current.disabled;
    rp.registration_access_token_sha256 = current.registration_access_token_sha256.clone();
    rp.client_id_issued_at = current.client_id_issued_at;
    services.relying_parties.register(&rp).await?;
    audit(services, AuditKind::RelyingPartyChanged, actor, &rp).await?;
    Ok(rp)
}

/// Disables (or enables again) a client: a disabled client cannot authenticate anywhere.
pub async fn set_disabled(
    services: &Services,
    actor: &str,
    id: &str,
    disabled: bool,
) -> Result<RelyingParty, ManagementError> {
    let mut rp = managed(services, id).await?;
    rp.disabled = disabled;
    services.relying_parties.register(&rp).await?;
    let kind = if disabled {
        AuditKind::RelyingPartyDisabled
    } else {
        AuditKind::RelyingPartyEnabled
    };
    audit(services, kind, actor, &rp).await?;
    Ok(rp)
}

/// A new secret for a `client_secret_basic` client; the old one stops working at once.
pub async fn rotate_secret(
    services: &Services,
    actor: &str,
    id: &str,
) -> Result<SecretString, ManagementError> {
    let mut rp = managed(services, id).await?;
    if !matches!(
        rp.authentication,
        ClientAuthentication::ClientSecretBasic { .. }
    ) {
        return Err(ManagementError::NoSecret(rp.client_id));
    }
    let secret = random_token()?;
    rp.authentication = ClientAuthentication::ClientSecretBasic {
        secret_sha256: digest(&secret),
    };
    services.relying_parties.register(&rp).await?;
    audit(services, AuditKind::ClientSecretRotated, actor, &rp).await?;
    Ok(SecretString::from(secret))
}

/// Replaces the client's public key (and makes it a `private_key_jwt` client).
pub async fn replace_key(
    services: &Services,
    actor: &str,
    id: &str,
    key: RegisteredKey,
) -> Result<RelyingParty, ManagementError> {
    let mut rp = managed(services, id).await?;
    key.key()
        .map_err(|e| ManagementError::Invalid(format!("public_key: {e}")))?;
    rp.authentication = ClientAuthentication::PrivateKeyJwt { public_key: key };
    services.relying_parties.register(&rp).await?;
    audit(services, AuditKind::ClientKeyReplaced, actor, &rp).await?;
    Ok(rp)
}

/// Whether `token` is the registration access token of this dynamically registered client.
pub fn holds_registration_token(rp: &RelyingParty, token: &str) -> bool {
    use subtle::ConstantTimeEq;
    rp.registration_access_token_sha256
        .as_deref()
        .is_some_and(|d| d.as_bytes().ct_eq(digest(token).as_bytes()).into())
}

/// Exposes a secret once, to hand it over.
pub fn reveal(secret: &SecretString) -> &str {
    secret.expose_secret()
}

/// How long an initial access token (RFC 7591 §3) stays usable when the operator names no
/// other lifetime.
pub const INITIAL_ACCESS_TOKEN_TTL: std::time::Duration = std::time::Duration::from_secs(86_400);

fn initial_access_key(token: &str) -> String {
    format!("initial-access-token:{}", digest(token))
}

/// An operator's permission for one dynamic registration in production: single use, kept only
/// as its SHA-256.
pub async fn issue_initial_access_token(
    services: &Services,
    actor: &str,
    ttl: std::time::Duration,
) -> Result<SecretString, ManagementError> {
    let token = random_token()?;
    let now = services.clock.now();
    services
        .store
        .put_expiring(
            &initial_access_key(&token),
            actor.as_bytes().to_vec(),
            now.plus(ttl),
            crate::store::PutMode::IfAbsent,
            now,
        )
        .await?;
    services
        .audit
        .record(
            AuditKind::InitialAccessTokenIssued,
            actor,
            json!({ "expires_in": ttl.as_secs() }),
        )
        .await?;
    Ok(SecretString::from(token))
}

/// Uses up an initial access token; `false` if it is unknown, expired or used.
pub async fn consume_initial_access_token(
    services: &Services,
    token: &str,
) -> Result<bool, StoreError> {
    let now = services.clock.now();
    Ok(services
        .store
        .take_expiring(&initial_access_key(token), now)
        .await?
        .is_some())
}
