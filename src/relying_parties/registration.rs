//! What a relying party is allowed to do, and where registrations are kept.

use std::collections::BTreeSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::config::Mode;
use crate::domain::{AuthLevel, AuthMethod, ClientId, Level};
use crate::store::{SharedStore, StoreError, Table, get_json, put_json};
use crate::tokens::jwk::parse_ed25519_public_key;

/// How a relying party proves who it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientAuthentication {
    /// HTTP Basic with a generated 256-bit secret, stored only as its SHA-256 digest (hex): a
    /// high-entropy secret needs no slow hash.
    ClientSecretBasic { secret_sha256: String },
    /// A JWT assertion (RFC 7523) signed with the client's Ed25519 key (public key, base64url).
    PrivateKeyJwt { public_key: String },
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
    pub above_amount_vnd: u64,
    #[schema(value_type = u8)]
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
                parse_ed25519_public_key(public_key)
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
#[derive(Clone)]
pub struct RelyingParties {
    store: SharedStore,
    /// Registrations read in the last few seconds: every relying-party request authenticates, and
    /// registrations change rarely. A change reaches every instance within `CACHE_TTL`.
    cache: std::sync::Arc<std::sync::RwLock<RegistrationCache>>,
}

type RegistrationCache = std::collections::HashMap<ClientId, (std::time::Instant, RelyingParty)>;

const CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(5);

impl RelyingParties {
    pub fn new(store: SharedStore) -> Self {
        Self {
            store,
            cache: Default::default(),
        }
    }

    pub async fn get(&self, id: &ClientId) -> Result<Option<RelyingParty>, StoreError> {
        if let Ok(cache) = self.cache.read()
            && let Some((at, rp)) = cache.get(id)
            && at.elapsed() < CACHE_TTL
        {
            return Ok(Some(rp.clone()));
        }
        let found: Option<RelyingParty> =
            get_json(self.store.as_ref(), Table::RelyingParties, id.as_str()).await?;
        if let (Some(rp), Ok(mut cache)) = (&found, self.cache.write()) {
            if cache.len() > 10_000 {
                cache.clear();
            }
            cache.insert(id.clone(), (std::time::Instant::now(), rp.clone()));
        }
        Ok(found)
    }

    pub async fn register(&self, rp: &RelyingParty) -> Result<(), StoreError> {
        if let Ok(mut cache) = self.cache.write() {
            cache.remove(&rp.client_id);
        }
        put_json(
            self.store.as_ref(),
            Table::RelyingParties,
            rp.client_id.as_str(),
            rp,
        )
        .await
    }

    /// Writes every registration of the file into the store (the file wins for its clients).
    pub async fn sync(&self, file: &RegistryFile) -> Result<usize, StoreError> {
        for rp in &file.relying_parties {
            self.register(rp).await?;
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
