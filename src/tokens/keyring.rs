//! The token-signing keyring: Ed25519 keys in three states.
//!
//! - **next**: published in the JWKS but not yet signing, so relying parties that cache the JWKS
//!   already know it when it starts signing;
//! - **active**: signs every new token;
//! - **retired**: no longer signs, still published and accepted until every token it signed has
//!   expired (`tokens.max_lifetime_secs`), then deleted.
//!
//! `eidgw keys rotate` moves next → active → retired and creates a new next; running gateways
//! pick the change up by re-reading the manifest (see `startup`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, spki::der::pem::LineEnding};
use jsonwebtoken::{DecodingKey, EncodingKey};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use super::jwk::{JwkSet, PublicJwk, public_jwk, thumbprint};
use crate::clock::Timestamp;
use crate::keys::{KeyError, read_private, write_private, write_public};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyState {
    Next,
    Active,
    Retired,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyEntry {
    pub kid: String,
    pub state: KeyState,
    pub created_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activated_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retired_at: Option<Timestamp>,
}

/// `signing/keyring.json`: which key is in which state. Increments `generation` on each change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyringManifest {
    pub generation: u64,
    pub keys: Vec<KeyEntry>,
}

/// What a rotation did, for the operator and the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rotation {
    pub generation: u64,
    pub activated: String,
    pub retired: String,
    pub new_next: String,
    pub removed: Vec<String>,
}

fn manifest_path(dir: &Path) -> PathBuf {
    dir.join("keyring.json")
}

fn key_path(dir: &Path, kid: &str) -> PathBuf {
    dir.join(format!("{kid}.pem"))
}

fn generate_key(dir: &Path, now: Timestamp, state: KeyState) -> Result<KeyEntry, KeyError> {
    let mut seed = zeroize::Zeroizing::new([0u8; 32]);
    crate::keys::files_random(&mut *seed)?;
    let key = SigningKey::from_bytes(&seed);
    let kid = thumbprint(&key.verifying_key());
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|_| KeyError::Invalid(key_path(dir, &kid)))?;
    write_private(&key_path(dir, &kid), pem.as_bytes())?;
    Ok(KeyEntry {
        kid,
        state,
        created_at: now,
        activated_at: (state == KeyState::Active).then_some(now),
        retired_at: None,
    })
}

fn load_signing_key(dir: &Path, kid: &str) -> Result<SigningKey, KeyError> {
    let path = key_path(dir, kid);
    let pem = read_private(&path)?;
    let key = SigningKey::from_pkcs8_pem(pem.expose_secret())
        .map_err(|_| KeyError::Invalid(path.clone()))?;
    if thumbprint(&key.verifying_key()) != kid {
        return Err(KeyError::Invalid(path));
    }
    Ok(key)
}

impl KeyringManifest {
    /// A new keyring with one active and one next key.
    pub fn create(dir: &Path, now: Timestamp) -> Result<Self, KeyError> {
        let active = generate_key(dir, now, KeyState::Active)?;
        let next = generate_key(dir, now, KeyState::Next)?;
        let manifest = Self {
            generation: 1,
            keys: vec![active, next],
        };
        manifest.save(dir)?;
        Ok(manifest)
    }

    pub fn load(dir: &Path) -> Result<Self, KeyError> {
        let path = manifest_path(dir);
        let text = std::fs::read_to_string(&path).map_err(|_| KeyError::Missing(dir.to_owned()))?;
        let manifest: Self =
            serde_json::from_str(&text).map_err(|_| KeyError::Invalid(path.clone()))?;
        let count = |s| manifest.keys.iter().filter(|k| k.state == s).count();
        if count(KeyState::Active) != 1 || count(KeyState::Next) != 1 {
            return Err(KeyError::Invalid(path));
        }
        Ok(manifest)
    }

    fn save(&self, dir: &Path) -> Result<(), KeyError> {
        let json =
            serde_json::to_vec_pretty(self).map_err(|_| KeyError::Invalid(manifest_path(dir)))?;
        write_public(&manifest_path(dir), &json)
    }

    fn find(&self, state: KeyState) -> Option<&KeyEntry> {
        self.keys.iter().find(|k| k.state == state)
    }

    /// next → active, active → retired, new next; deletes retired keys older than `retention`.
    /// Refuses while the next key is younger than the JWKS cache lifetime unless `force`.
    pub fn rotate(
        dir: &Path,
        now: Timestamp,
        jwks_max_age: Duration,
        retention: Duration,
        force: bool,
    ) -> Result<Rotation, KeyError> {
        let mut m = Self::load(dir)?;
        let next = m
            .find(KeyState::Next)
            .cloned()
            .ok_or_else(|| KeyError::Invalid(manifest_path(dir)))?;
        let published = next.created_at.until(now);
        if published < jwks_max_age && !force {
            return Err(KeyError::NextKeyTooFresh {
                kid: next.kid,
                published_secs: published.as_secs(),
                max_age_secs: jwks_max_age.as_secs(),
            });
        }
        let mut retired = String::new();
        for k in &mut m.keys {
            match k.state {
                KeyState::Active => {
                    k.state = KeyState::Retired;
                    k.retired_at = Some(now);
                    retired = k.kid.clone();
                }
                KeyState::Next => {
                    k.state = KeyState::Active;
                    k.activated_at = Some(now);
                }
                KeyState::Retired => {}
            }
        }
        let new_next = generate_key(dir, now, KeyState::Next)?;
        let new_next_kid = new_next.kid.clone();
        m.keys.push(new_next);
        let (expired, kept): (Vec<_>, Vec<_>) = m.keys.into_iter().partition(|k| {
            k.state == KeyState::Retired && k.retired_at.is_some_and(|at| at.plus(retention) <= now)
        });
        m.keys = kept;
        m.generation += 1;
        m.save(dir)?;
        for k in &expired {
            let _ = std::fs::remove_file(key_path(dir, &k.kid));
        }
        Ok(Rotation {
            generation: m.generation,
            activated: next.kid,
            retired,
            new_next: new_next_kid,
            removed: expired.into_iter().map(|k| k.kid).collect(),
        })
    }
}

/// The loaded keyring: the signing key and every key a token may be verified with.
pub struct Keyring {
    generation: u64,
    active_kid: String,
    signing: EncodingKey,
    verifying: HashMap<String, DecodingKey>,
    jwks: JwkSet,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("generation", &self.generation)
            .field("active_kid", &self.active_kid)
            .finish_non_exhaustive()
    }
}

pub type SharedKeyring = Arc<ArcSwap<Keyring>>;

impl Keyring {
    pub fn load(dir: &Path) -> Result<Self, KeyError> {
        let manifest = KeyringManifest::load(dir)?;
        let mut verifying = HashMap::new();
        let mut jwks: Vec<(u8, PublicJwk)> = Vec::new();
        let mut signing = None;
        for entry in &manifest.keys {
            let key = load_signing_key(dir, &entry.kid)?;
            let public = key.verifying_key();
            verifying.insert(
                entry.kid.clone(),
                DecodingKey::from_ed_der(public.as_bytes()),
            );
            let order = match entry.state {
                KeyState::Active => 0,
                KeyState::Next => 1,
                KeyState::Retired => 2,
            };
            jwks.push((order, public_jwk(&public)));
            if entry.state == KeyState::Active {
                let der = key
                    .to_pkcs8_der()
                    .map_err(|_| KeyError::Invalid(key_path(dir, &entry.kid)))?;
                signing = Some((entry.kid.clone(), EncodingKey::from_ed_der(der.as_bytes())));
            }
        }
        let (active_kid, signing) = signing.ok_or_else(|| KeyError::Invalid(manifest_path(dir)))?;
        jwks.sort_by_key(|(o, _)| *o);
        Ok(Self {
            generation: manifest.generation,
            active_kid,
            signing,
            verifying,
            jwks: JwkSet {
                keys: jwks.into_iter().map(|(_, k)| k).collect(),
            },
        })
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }
    pub fn active_kid(&self) -> &str {
        &self.active_kid
    }
    pub fn jwks(&self) -> &JwkSet {
        &self.jwks
    }
    /// The verification key for `kid`, if the keyring publishes it.
    pub fn decoding_key(&self, kid: &str) -> Option<&DecodingKey> {
        self.verifying.get(kid)
    }

    /// Signs `claims` with the active key, `alg: EdDSA`, `kid` and `typ` in the header.
    pub fn sign<T: Serialize>(
        &self,
        typ: &str,
        claims: &T,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
        header.kid = Some(self.active_kid.clone());
        header.typ = Some(typ.to_owned());
        jsonwebtoken::encode(&header, claims, &self.signing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> Timestamp {
        Timestamp::from_secs(secs)
    }

    #[test]
    fn rotation_moves_keys_through_their_states_and_prunes_old_retired_keys() {
        let dir = tempfile::tempdir().unwrap();
        let m = KeyringManifest::create(dir.path(), t(0)).unwrap();
        let first_active = m.find(KeyState::Active).unwrap().kid.clone();
        let first_next = m.find(KeyState::Next).unwrap().kid.clone();

        let day = Duration::from_secs(86_400);
        let r = KeyringManifest::rotate(dir.path(), t(600), Duration::from_secs(300), day, false)
            .unwrap();
        assert_eq!(r.activated, first_next);
        assert_eq!(r.retired, first_active);
        let ring = Keyring::load(dir.path()).unwrap();
        assert_eq!(ring.active_kid(), first_next);
        assert_eq!(
            ring.jwks().keys.len(),
            3,
            "active, next and the retired key are published"
        );
        assert!(ring.decoding_key(&first_active).is_some());

        let r2 = KeyringManifest::rotate(
            dir.path(),
            t(600 + 86_400),
            Duration::from_secs(300),
            day,
            false,
        )
        .unwrap();
        assert_eq!(r2.removed, vec![first_active.clone()]);
        assert!(!dir.path().join(format!("{first_active}.pem")).exists());
        assert!(
            Keyring::load(dir.path())
                .unwrap()
                .decoding_key(&first_active)
                .is_none()
        );
    }

    #[test]
    fn a_next_key_younger_than_the_jwks_cache_may_not_start_signing() {
        let dir = tempfile::tempdir().unwrap();
        KeyringManifest::create(dir.path(), t(0)).unwrap();
        let err = KeyringManifest::rotate(
            dir.path(),
            t(10),
            Duration::from_secs(300),
            Duration::from_secs(60),
            false,
        );
        assert!(matches!(err, Err(KeyError::NextKeyTooFresh { .. })));
        assert!(
            KeyringManifest::rotate(
                dir.path(),
                t(10),
                Duration::from_secs(300),
                Duration::from_secs(60),
                true
            )
            .is_ok()
        );
    }

    #[test]
    fn signed_tokens_verify_with_the_published_key_and_carry_the_kid() {
        let dir = tempfile::tempdir().unwrap();
        KeyringManifest::create(dir.path(), t(0)).unwrap();
        let ring = Keyring::load(dir.path()).unwrap();
        let token = ring
            .sign("test+jwt", &serde_json::json!({"sub": "x"}))
            .unwrap();
        let (header, _) = super::super::jws::inspect(&token).unwrap();
        assert_eq!(header.kid.as_deref(), Some(ring.active_kid()));
        assert_eq!(header.typ.as_deref(), Some("test+jwt"));
        let key = ring.decoding_key(ring.active_kid()).unwrap();
        let claims: serde_json::Value = super::super::jws::verify_eddsa(&token, key).unwrap();
        assert_eq!(claims["sub"], "x");
    }

    #[test]
    fn private_key_files_are_owner_only_and_refused_otherwise() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let m = KeyringManifest::create(dir.path(), t(0)).unwrap();
        let path = key_path(dir.path(), &m.keys[0].kid);
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            Keyring::load(dir.path()),
            Err(KeyError::Permissions(_))
        ));
    }
}
