//! What a relying party is allowed to do, and where registrations are kept.

use std::collections::BTreeSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::config::Mode;
use crate::domain::{AuthLevel, AuthMethod, ClientId, Level};
use crate::store::{SharedStore, StoreError, Table, get_json, put_json};
use crate::tokens::client_keys::ClientKey;
use crate::tokens::jwk::parse_ed25519_public_key;

/// How a relying party proves who it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientAuthentication {
    /// HTTP Basic with a generated 256-bit secret, stored only as its SHA-256 digest (hex): a
    /// high-entropy secret needs no slow hash.
    ClientSecretBasic { secret_sha256: String },
    /// A JWT assertion (RFC 7523) signed with the client's key.
    PrivateKeyJwt { public_key: RegisteredKey },
}

/// A relying party's public key for `private_key_jwt`: an Ed25519 key as base64url (how the
/// registry file writes it), or a public JWK — Ed25519 or P-256 — as dynamic registration sends
/// it. Checked strictly ([`ClientKey::from_jwk`]) before it is stored or used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RegisteredKey {
    Ed25519(String),
    Jwk(serde_json::Value),
}

impl RegisteredKey {
    /// The key, or why it is not one.
    pub fn key(&self) -> Result<ClientKey, String> {
        match self {
            RegisteredKey::Ed25519(b64) => parse_ed25519_public_key(b64)
                .map(ClientKey::Ed25519)
                .map_err(str::to_owned),
            RegisteredKey::Jwk(jwk) => ClientKey::from_jwk(jwk).map_err(|e| e.to_string()),
        }
    }
}

/// Where a registration came from. Those from the registry file are read-only elsewhere: the
/// file is their source of truth, written into the store at every start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationSource {
    #[default]
    File,
    /// The operator API (`eidgw rp register`).
    Operator,
    /// Dynamic client registration (RFC 7591).
    Dynamic,
}

/// What a relying party may call.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    Verify,
    ChipVerify,
    Match,
    MatchBatch,
    Ciba,
}

/// Personal data a relying party may receive.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ClaimName {
    PersonalId,
    FullName,
    BirthDate,
    Sex,
    Nationality,
    Ethnicity,
    Religion,
    Hometown,
    PermanentAddress,
    Phone,
    HealthInsuranceNumber,
    #[serde(rename = "age_over_18")]
    AgeOver18,
}

/// The ages an `age_over_N` may name.
pub const AGE_THRESHOLDS: std::ops::RangeInclusive<u8> = 1..=120;

/// A transaction rule: above an amount, a stronger authentication is needed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StepUpRule {
    /// The RFC 9396 `authorization_details` type, e.g. `bank_transfer`.
    pub transaction: String,
    /// At most the largest amount a transaction may carry: a higher threshold could never apply.
    #[schema(maximum = 1_000_000_000_000_u64)]
    pub above_amount_vnd: u64,
    pub min_auth_level: AuthLevel,
    /// RFC 8176 `amr` values that must be among the factors, e.g. `face`.
    #[serde(default)]
    pub require: Vec<AuthMethod>,
}

/// How a relying party's ID tokens are signed (OpenID Connect Dynamic Client Registration's
/// `id_token_signed_response_alg`). Every other token is EdDSA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum IdTokenAlg {
    #[default]
    EdDSA,
    RS256,
}

/// A relying party's registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelyingParty {
    pub client_id: ClientId,
    pub name: String,
    /// Pairwise subjects are per sector: RPs of one sector see the same `sub`.
    pub sector: String,
    pub authentication: ClientAuthentication,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub id_token_signed_response_alg: IdTokenAlg,
    /// Where RP-initiated logout may send the browser back to (exact match).
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    #[serde(default)]
    pub allowed_claims: BTreeSet<ClaimName>,
    /// The ages N for which this relying party may learn `age_over_N` (true/false, never the
    /// birth date): in verification answers, and as the OIDC scope `age_over_N`.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub age_over: BTreeSet<u8>,
    pub min_level: Level,
    pub min_auth_level: AuthLevel,
    #[serde(default)]
    pub step_up: Vec<StepUpRule>,
    #[serde(default)]
    pub permissions: BTreeSet<Permission>,
    /// Requests per minute this client may make.
    pub rate_quota_per_minute: u32,
    /// Records per minute this client may match: one per `match`, one per line of a
    /// `match/batch` (a batch is one request but many records).
    #[serde(default = "default_match_records_per_minute")]
    pub match_records_per_minute: u32,
    /// The Ed25519 public key (base64url) of the relying party's kiosk, which signs live face
    /// captures sent to the chip verification API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kiosk_public_key: Option<String>,
    /// A sandbox registration with published credentials: refused in production mode.
    #[serde(default)]
    pub sandbox: bool,
    /// A disabled client cannot authenticate, anywhere, until it is enabled again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disabled: bool,
    #[serde(default)]
    pub source: RegistrationSource,
    /// RFC 7592: the SHA-256 (hex) of the registration access token a dynamically registered
    /// client manages itself with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_access_token_sha256: Option<String>,
    /// When the registration was made (seconds; 0 for the registry file's).
    #[serde(default)]
    pub client_id_issued_at: i64,
}

fn default_match_records_per_minute() -> u32 {
    1_000_000
}

impl RelyingParty {
    pub fn may(&self, p: Permission) -> bool {
        self.permissions.contains(&p)
    }

    /// Checks what types cannot: credential formats, non-empty names, exact redirect URIs.
    pub fn validate(&self) -> Result<(), String> {
        let id = &self.client_id;
        if self.name.trim().is_empty() || self.sector.trim().is_empty() {
            return Err(format!("{id}: name and sector must not be empty"));
        }
        match &self.authentication {
            ClientAuthentication::ClientSecretBasic { secret_sha256 } => {
                let ok = secret_sha256.len() == 64
                    && secret_sha256.bytes().all(|b| b.is_ascii_hexdigit());
                if !ok {
                    return Err(format!("{id}: secret_sha256 must be 64 hex digits"));
                }
            }
            ClientAuthentication::PrivateKeyJwt { public_key } => {
                public_key
                    .key()
                    .map_err(|e| format!("{id}: public_key: {e}"))?;
            }
        }
        if let Some(kiosk) = &self.kiosk_public_key {
            parse_ed25519_public_key(kiosk).map_err(|e| format!("{id}: kiosk_public_key: {e}"))?;
        }
        for uri in self
            .redirect_uris
            .iter()
            .chain(&self.post_logout_redirect_uris)
        {
            let ok = (uri.starts_with("https://")
                || uri.starts_with("http://127.0.0.1")
                || uri.starts_with("http://localhost"))
                && !uri.contains('#')
                && !uri.contains('*');
            if !ok {
                return Err(format!(
                    "{id}: redirect URI {uri} must be https (or loopback http), without fragment or wildcard"
                ));
            }
        }
        if let Some(n) = self.age_over.iter().find(|n| !AGE_THRESHOLDS.contains(n)) {
            return Err(format!(
                "{id}: age_over {n} must be between {} and {}",
                AGE_THRESHOLDS.start(),
                AGE_THRESHOLDS.end()
            ));
        }
        if self.rate_quota_per_minute == 0 {
            return Err(format!("{id}: rate_quota_per_minute must be positive"));
        }
        let max = crate::identity::transactions::MAX_AMOUNT_VND;
        if let Some(rule) = self.step_up.iter().find(|r| r.above_amount_vnd > max) {
            return Err(format!(
                "{id}: step_up above_amount_vnd {} must be at most {max}",
                rule.above_amount_vnd
            ));
        }
        Ok(())
    }
}

/// `config/relying_parties.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryFile {
    #[serde(default, rename = "relying_party")]
    pub relying_parties: Vec<RelyingParty>,
}

impl RegistryFile {
    pub fn load(path: &Path, mode: Mode) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let file: RegistryFile =
            toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut seen = BTreeSet::new();
        for rp in &file.relying_parties {
            rp.validate()
                .map_err(|e| format!("{}: {e}", path.display()))?;
            if !seen.insert(rp.client_id.clone()) {
                return Err(format!(
                    "{}: client_id {} is registered twice",
                    path.display(),
                    rp.client_id
                ));
            }
            if rp.sandbox && mode == Mode::Production {
                return Err(format!(
                    "{}: {} is a sandbox relying party with published credentials; production refuses it",
                    path.display(),
                    rp.client_id
                ));
            }
        }
        Ok(file)
    }
}

/// The relying-party registry in the store (shared by every gateway instance).
///
/// Every relying-party request authenticates, so registrations are cached in each instance; a
/// change anywhere bumps a version record in the store, which each instance reads at most every
/// [`VERSION_CHECK`] and which empties its cache when it moved. A change — a secret rotated, a
/// client disabled — is thus in force on every instance within that time, and at once on the
/// instance that made it; a new registration is found at once everywhere (it was never cached).
#[derive(Clone)]
pub struct RelyingParties {
    store: SharedStore,
    cache: std::sync::Arc<std::sync::RwLock<RegistrationCache>>,
}

#[derive(Default)]
struct RegistrationCache {
    entries: std::collections::HashMap<ClientId, RelyingParty>,
    /// The version the entries belong to, and when it was last compared with the store's.
    version: Option<Vec<u8>>,
    checked_at: Option<std::time::Instant>,
}

const VERSION_CHECK: std::time::Duration = std::time::Duration::from_millis(250);
pub(crate) const VERSION_KEY: &str = "relying-parties-version";
/// Every client id registered, in order (a list may repeat one; readers dedupe).
const INDEX: &str = "relying-parties";

impl RelyingParties {
    pub fn new(store: SharedStore) -> Self {
        Self {
            store,
            cache: Default::default(),
        }
    }

    /// Empties the cache if the store's version moved since it was last looked at.
    async fn refresh_cache(&self) -> Result<(), StoreError> {
        let due = self.cache.read().map_or(true, |c| {
            c.checked_at.is_none_or(|t| t.elapsed() >= VERSION_CHECK)
        });
        if !due {
            return Ok(());
        }
        let version = self.store.get(Table::Meta, VERSION_KEY).await?;
        if let Ok(mut c) = self.cache.write() {
            if c.version != version {
                c.entries.clear();
                c.version = version;
            }
            c.checked_at = Some(std::time::Instant::now());
        }
        Ok(())
    }

    pub async fn get(&self, id: &ClientId) -> Result<Option<RelyingParty>, StoreError> {
        self.refresh_cache().await?;
        if let Some(rp) = self
            .cache
            .read()
            .ok()
            .and_then(|c| c.entries.get(id).cloned())
        {
            return Ok(Some(rp));
        }
        let found: Option<RelyingParty> =
            get_json(self.store.as_ref(), Table::RelyingParties, id.as_str()).await?;
        if let (Some(rp), Ok(mut cache)) = (&found, self.cache.write()) {
            if cache.entries.len() > 10_000 {
                cache.entries.clear();
            }
            cache.entries.insert(id.clone(), rp.clone());
        }
        Ok(found)
    }

    /// Every registration, in the order they were first made.
    pub async fn list(&self) -> Result<Vec<RelyingParty>, StoreError> {
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        let mut from = 1;
        loop {
            let page = self.store.list_range(INDEX, from, 500).await?;
            let n = page.len();
            for (_, raw) in page {
                let Ok(id) = ClientId::parse(&String::from_utf8_lossy(&raw)) else {
                    continue;
                };
                if seen.insert(id.clone())
                    && let Some(rp) = self.get(&id).await?
                {
                    out.push(rp);
                }
            }
            if n < 500 {
                break;
            }
            from += 500;
        }
        Ok(out)
    }

    /// Tells every instance that registrations changed.
    async fn changed(&self, id: &ClientId) -> Result<(), StoreError> {
        if let Ok(mut cache) = self.cache.write() {
            cache.entries.remove(id);
        }
        let version = crate::challenges::random_token()?;
        self.store
            .put(Table::Meta, VERSION_KEY, version.into_bytes())
            .await
    }

    /// Writes a registration (new or changed).
    pub async fn register(&self, rp: &RelyingParty) -> Result<(), StoreError> {
        let known = self
            .store
            .get(Table::RelyingParties, rp.client_id.as_str())
            .await?
            .is_some();
        put_json(
            self.store.as_ref(),
            Table::RelyingParties,
            rp.client_id.as_str(),
            rp,
        )
        .await?;
        if !known {
            self.store
                .list_push(INDEX, rp.client_id.as_str().as_bytes().to_vec())
                .await?;
        }
        self.changed(&rp.client_id).await
    }

    /// Writes a new registration; `false` (and nothing written) if the client id is taken.
    pub async fn create(&self, rp: &RelyingParty) -> Result<bool, StoreError> {
        let fresh = self
            .store
            .insert_new(
                Table::RelyingParties,
                rp.client_id.as_str(),
                crate::store::encode(rp)?,
            )
            .await?;
        if fresh {
            self.store
                .list_push(INDEX, rp.client_id.as_str().as_bytes().to_vec())
                .await?;
            self.changed(&rp.client_id).await?;
        }
        Ok(fresh)
    }

    /// Writes every registration of the file into the store (the file wins for its clients).
    pub async fn sync(&self, file: &RegistryFile) -> Result<usize, StoreError> {
        for rp in &file.relying_parties {
            let mut rp = rp.clone();
            rp.source = RegistrationSource::File;
            if self.get(&rp.client_id).await?.as_ref() != Some(&rp) {
                self.register(&rp).await?;
            }
        }
        Ok(file.relying_parties.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped() -> std::path::PathBuf {
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config/relying_parties.toml")
    }

    #[test]
    fn the_five_shipped_relying_parties_load_in_dev_and_are_refused_in_production() {
        let file = RegistryFile::load(&shipped(), Mode::Dev).unwrap();
        let ids: Vec<&str> = file
            .relying_parties
            .iter()
            .map(|r| r.client_id.as_str())
            .collect();
        for id in [
            "vietsky-air",
            "hanoi-general-hospital",
            "lotus-bank",
            "mekong-telecom",
            "public-services-portal",
        ] {
            assert!(ids.contains(&id), "{id} is shipped");
        }
        let err = RegistryFile::load(&shipped(), Mode::Production).unwrap_err();
        assert!(err.contains("sandbox"), "{err}");
    }

    #[test]
    fn a_kiosk_key_that_is_not_an_ed25519_key_is_refused_at_load() {
        let text = std::fs::read_to_string(shipped())
            .unwrap()
            .replace("IpfUA52dEkwJITmmE77XfCveIgwH6C05GdAD2cfn6oI", "not-a-key");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("relying_parties.toml");
        std::fs::write(&path, text).unwrap();
        let err = RegistryFile::load(&path, Mode::Dev).unwrap_err();
        assert!(err.contains("vietsky-air: kiosk_public_key"), "{err}");
    }

    #[test]
    fn lotus_bank_requires_face_above_ten_million() {
        let file = RegistryFile::load(&shipped(), Mode::Dev).unwrap();
        let bank = file
            .relying_parties
            .iter()
            .find(|r| r.client_id.as_str() == "lotus-bank")
            .unwrap();
        let rule = &bank.step_up[0];
        assert_eq!(rule.above_amount_vnd, 10_000_000);
        assert!(rule.min_auth_level >= AuthLevel::THREE);
        assert_eq!(rule.require, vec![AuthMethod::Face]);
    }
}
