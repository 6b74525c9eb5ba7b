//! The token-signing keyring: Ed25519 keys in three states, and the same three for one RSA key
//! line that signs only the ID tokens of relying parties registered for RS256 (OpenID Connect
//! Core requires RS256 support; the gateway itself never accepts an RS256 token).
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

use super::jwk::{JwkSet, PublicJwk, public_jwk, rsa_public_jwk, thumbprint};
use super::jws;
use crate::clock::Timestamp;
use crate::keys::{KeyError, read_private, write_private, write_public};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyState {
    Next,
    Active,
    Retired,
}

/// The algorithm a key signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum KeyAlg {
    #[default]
    EdDSA,
    RS256,
}

impl KeyAlg {
    pub const ALL: [KeyAlg; 2] = [KeyAlg::EdDSA, KeyAlg::RS256];
}

fn is_eddsa(a: &KeyAlg) -> bool {
    *a == KeyAlg::EdDSA
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyEntry {
    pub kid: String,
    #[serde(default, skip_serializing_if = "is_eddsa")]
    pub alg: KeyAlg,
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
    /// The RSA line's new active key, when the keyring has one.
    pub rs256_activated: Option<String>,
    pub removed: Vec<String>,
}

fn manifest_path(dir: &Path) -> PathBuf {
    dir.join("keyring.json")
}

fn key_path(dir: &Path, kid: &str) -> PathBuf {
    dir.join(format!("{kid}.pem"))
}

fn generate_key(
    dir: &Path,
    now: Timestamp,
    state: KeyState,
    alg: KeyAlg,
) -> Result<KeyEntry, KeyError> {
    let (kid, pem) = match alg {
        KeyAlg::EdDSA => {
            let mut seed = zeroize::Zeroizing::new([0u8; 32]);
            crate::keys::files_random(&mut *seed)?;
            let key = SigningKey::from_bytes(&seed);
            let kid = thumbprint(&key.verifying_key());
            let pem = key
                .to_pkcs8_pem(LineEnding::LF)
                .map_err(|_| KeyError::Invalid(key_path(dir, &kid)))?;
            (kid, pem)
        }
        KeyAlg::RS256 => {
            let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, RSA_BITS)
                .map_err(|_| KeyError::Invalid(dir.to_owned()))?;
            let kid = rsa_public_jwk(&key.to_public_key()).kid;
            let pem = rsa::pkcs8::EncodePrivateKey::to_pkcs8_pem(&key, LineEnding::LF)
                .map_err(|_| KeyError::Invalid(key_path(dir, &kid)))?;
            (kid, pem)
        }
    };
    write_private(&key_path(dir, &kid), pem.as_bytes())?;
    Ok(KeyEntry {
        kid,
        alg,
        state,
        created_at: now,
        activated_at: (state == KeyState::Active).then_some(now),
        retired_at: None,
    })
}

const RSA_BITS: usize = 2048;

fn load_rsa_key(dir: &Path, kid: &str) -> Result<rsa::RsaPrivateKey, KeyError> {
    use rsa::pkcs8::DecodePrivateKey as _;
    let path = key_path(dir, kid);
    let pem = read_private(&path)?;
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(pem.expose_secret())
        .map_err(|_| KeyError::Invalid(path.clone()))?;
    if rsa_public_jwk(&key.to_public_key()).kid != kid {
        return Err(KeyError::Invalid(path));
    }
    Ok(key)
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
    /// A new keyring with one active and one next key of each algorithm.
    pub fn create(dir: &Path, now: Timestamp) -> Result<Self, KeyError> {
        let mut keys = Vec::new();
        for alg in KeyAlg::ALL {
            keys.push(generate_key(dir, now, KeyState::Active, alg)?);
            keys.push(generate_key(dir, now, KeyState::Next, alg)?);
        }
        let manifest = Self {
            generation: 1,
            keys,
        };
        manifest.save(dir)?;
        Ok(manifest)
    }

    pub fn load(dir: &Path) -> Result<Self, KeyError> {
        let path = manifest_path(dir);
        let text = std::fs::read_to_string(&path).map_err(|_| KeyError::Missing(dir.to_owned()))?;
        let manifest: Self =
            serde_json::from_str(&text).map_err(|_| KeyError::Invalid(path.clone()))?;
        let count = |alg, s| {
            manifest
                .keys
                .iter()
                .filter(|k| k.alg == alg && k.state == s)
                .count()
        };
        // EdDSA: exactly one active and one next. RS256: the same, or none at all (a keyring
        // from before RS256 existed; `keys rotate` adds the line).
        let eddsa_ok = count(KeyAlg::EdDSA, KeyState::Active) == 1
            && count(KeyAlg::EdDSA, KeyState::Next) == 1;
        let rsa = (
            count(KeyAlg::RS256, KeyState::Active),
            count(KeyAlg::RS256, KeyState::Next),
        );
        if !eddsa_ok || !(rsa == (1, 1) || rsa == (0, 0)) {
            return Err(KeyError::Invalid(path));
        }
        Ok(manifest)
    }

    fn save(&self, dir: &Path) -> Result<(), KeyError> {
        let json =
            serde_json::to_vec_pretty(self).map_err(|_| KeyError::Invalid(manifest_path(dir)))?;
        write_public(&manifest_path(dir), &json)
    }

    fn find(&self, alg: KeyAlg, state: KeyState) -> Option<&KeyEntry> {
        self.keys.iter().find(|k| k.alg == alg && k.state == state)
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
            .find(KeyAlg::EdDSA, KeyState::Next)
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
        let (_, retired, new_next_kid) = m.advance(dir, now, KeyAlg::EdDSA)?;
        let had_rsa = m.find(KeyAlg::RS256, KeyState::Active).is_some();
        let rs256_activated = if had_rsa {
            Some(m.advance(dir, now, KeyAlg::RS256)?.0)
        } else {
            // A keyring from before RS256: start the line (published as next first).
            m.keys
                .push(generate_key(dir, now, KeyState::Active, KeyAlg::RS256)?);
            m.keys
                .push(generate_key(dir, now, KeyState::Next, KeyAlg::RS256)?);
            m.find(KeyAlg::RS256, KeyState::Active)
                .map(|k| k.kid.clone())
        };
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
            rs256_activated,
            removed: expired.into_iter().map(|k| k.kid).collect(),
        })
    }

    /// One algorithm's line: next → active, active → retired, a new next. Returns (activated,
    /// retired, new next).
    fn advance(
        &mut self,
        dir: &Path,
        now: Timestamp,
        alg: KeyAlg,
    ) -> Result<(String, String, String), KeyError> {
        let mut activated = String::new();
        let mut retired = String::new();
        for k in self.keys.iter_mut().filter(|k| k.alg == alg) {
            match k.state {
                KeyState::Active => {
                    k.state = KeyState::Retired;
                    k.retired_at = Some(now);
                    retired = k.kid.clone();
                }
                KeyState::Next => {
                    k.state = KeyState::Active;
                    k.activated_at = Some(now);
                    activated = k.kid.clone();
                }
                KeyState::Retired => {}
            }
        }
        let new_next = generate_key(dir, now, KeyState::Next, alg)?;
        let new_next_kid = new_next.kid.clone();
        self.keys.push(new_next);
        Ok((activated, retired, new_next_kid))
    }
}

/// The loaded keyring: the signing key and every key a token may be verified with.
pub struct Keyring {
    generation: u64,
    active_kid: String,
    /// When the active key was made (its age is a metric: rotation is overdue when it grows).
    active_created_at: Timestamp,
    signing: EncodingKey,
    /// The active RSA key, for ID tokens of RS256 relying parties only.
    rs256: Option<(String, EncodingKey)>,
    /// The EdDSA public keys a token may be verified with, by kid, decoded once at load.
    verifying: HashMap<String, ed25519_dalek::VerifyingKey>,
    /// RSA public keys, by kid: only to recognise this gateway's own RS256 ID tokens when a
    /// relying party sends one back as a logout hint. No RS256 token is accepted as a credential.
    rs256_hints: HashMap<String, DecodingKey>,
    jwks: JwkSet,
    /// Tokens already verified with these keys, by the SHA-256 of their exact text (see
    /// [`Keyring::verify_reusable`]). It lives and dies with this key set: a reload or rotation
    /// builds a new `Keyring`, so no verdict outlives the keys that gave it.
    reusable: quick_cache::sync::Cache<[u8; 32], jws::Verified>,
}

/// How many reusable tokens (live app sessions, in practice) keep a remembered verification;
/// a few hundred bytes each. Beyond it the least used are forgotten and cost one check again.
const REUSABLE_TOKENS: usize = 4096;

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
        let mut rs256 = None;
        let mut rs256_hints = HashMap::new();
        for entry in manifest.keys.iter().filter(|k| k.alg == KeyAlg::RS256) {
            let key = load_rsa_key(dir, &entry.kid)?;
            let public = rsa_public_jwk(&key.to_public_key());
            if let (Some(n), Some(e)) = (&public.n, &public.e)
                && let Ok(decoding) = DecodingKey::from_rsa_components(n, e)
            {
                rs256_hints.insert(entry.kid.clone(), decoding);
            }
            let order = match entry.state {
                KeyState::Active => 2,
                KeyState::Next => 3,
                KeyState::Retired => 5,
            };
            jwks.push((order, rsa_public_jwk(&key.to_public_key())));
            if entry.state == KeyState::Active {
                let der = rsa::pkcs1::EncodeRsaPrivateKey::to_pkcs1_der(&key)
                    .map_err(|_| KeyError::Invalid(key_path(dir, &entry.kid)))?;
                rs256 = Some((entry.kid.clone(), EncodingKey::from_rsa_der(der.as_bytes())));
            }
        }
        for entry in manifest.keys.iter().filter(|k| k.alg == KeyAlg::EdDSA) {
            let key = load_signing_key(dir, &entry.kid)?;
            let public = key.verifying_key();
            verifying.insert(entry.kid.clone(), public);
            let order = match entry.state {
                KeyState::Active => 0,
                KeyState::Next => 1,
                KeyState::Retired => 4,
            };
            jwks.push((order, public_jwk(&public)));
            if entry.state == KeyState::Active {
                let der = key
                    .to_pkcs8_der()
                    .map_err(|_| KeyError::Invalid(key_path(dir, &entry.kid)))?;
                signing = Some((
                    entry.kid.clone(),
                    entry.created_at,
                    EncodingKey::from_ed_der(der.as_bytes()),
                ));
            }
        }
        let (active_kid, active_created_at, signing) =
            signing.ok_or_else(|| KeyError::Invalid(manifest_path(dir)))?;
        jwks.sort_by_key(|(o, _)| *o);
        Ok(Self {
            generation: manifest.generation,
            active_kid,
            active_created_at,
            signing,
            rs256,
            verifying,
            rs256_hints,
            jwks: JwkSet {
                keys: jwks.into_iter().map(|(_, k)| k).collect(),
            },
            reusable: quick_cache::sync::Cache::new(REUSABLE_TOKENS),
        })
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }
    pub fn active_kid(&self) -> &str {
        &self.active_kid
    }
    pub fn active_created_at(&self) -> Timestamp {
        self.active_created_at
    }
    pub fn jwks(&self) -> &JwkSet {
        &self.jwks
    }
    /// Checks a token this gateway signed with one of the keys it publishes
    /// ([`jws::verify_own`]); its claims are the caller's to decode and check.
    pub fn verify(&self, token: &str) -> Result<jws::Verified, jws::JwsError> {
        jws::verify_own(token, |kid| self.verifying.get(kid))
    }

    /// [`Keyring::verify`] for a token its holder sends again and again — the app's session
    /// token, on every call the app makes. The verdict for the exact token text is remembered,
    /// so a repeat costs a SHA-256 instead of an Ed25519 check; any other text (one changed
    /// byte) is checked in full, and only tokens that verified are remembered. What the verdict
    /// does not cover — expiry, issuer, audience, the session still being live — stays the
    /// caller's to check on every use.
    pub fn verify_reusable(&self, token: &str) -> Result<jws::Verified, jws::JwsError> {
        use sha2::Digest;
        let digest: [u8; 32] = sha2::Sha256::digest(token.as_bytes()).into();
        if let Some(verified) = self.reusable.get(&digest) {
            return Ok(verified);
        }
        let verified = self.verify(token)?;
        self.reusable.insert(digest, verified.clone());
        Ok(verified)
    }

    /// The RSA key that signed one of this gateway's RS256 ID tokens, to recognise a logout
    /// hint (and for nothing else).
    pub fn id_token_hint_key(&self, kid: &str) -> Option<&DecodingKey> {
        self.rs256_hints.get(kid)
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

    /// Signs an ID token with the active RSA key (`alg: RS256`), for a relying party registered
    /// with `id_token_signed_response_alg = "RS256"`.
    pub fn sign_rs256<T: Serialize>(
        &self,
        typ: &str,
        claims: &T,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let (kid, key) = self.rs256.as_ref().ok_or_else(|| {
            jsonwebtoken::errors::ErrorKind::InvalidRsaKey(
                "the keyring has no RS256 key: run `eidgw keys rotate`".into(),
            )
        })?;
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = Some(kid.clone());
        header.typ = Some(typ.to_owned());
        jsonwebtoken::encode(&header, claims, key)
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;

    fn t(secs: i64) -> Timestamp {
        Timestamp::from_secs(secs)
    }

    #[test]
    fn rotation_moves_keys_through_their_states_and_prunes_old_retired_keys() {
        let dir = tempfile::tempdir().unwrap();
        let m = KeyringManifest::create(dir.path(), t(0)).unwrap();
        let first_active = m.find(KeyAlg::EdDSA, KeyState::Active).unwrap().kid.clone();
        let first_next = m.find(KeyAlg::EdDSA, KeyState::Next).unwrap().kid.clone();
        let first_rsa_next = m.find(KeyAlg::RS256, KeyState::Next).unwrap().kid.clone();
        let first_rsa_active = m.find(KeyAlg::RS256, KeyState::Active).unwrap().kid.clone();
        let signed_before = Keyring::load(dir.path())
            .unwrap()
            .sign("test+jwt", &serde_json::json!({"sub": "x"}))
            .unwrap();

        let day = Duration::from_secs(86_400);
        let r = KeyringManifest::rotate(dir.path(), t(600), Duration::from_secs(300), day, false)
            .unwrap();
        assert_eq!(r.activated, first_next);
        assert_eq!(r.retired, first_active);
        assert_eq!(r.rs256_activated.as_deref(), Some(first_rsa_next.as_str()));
        let ring = Keyring::load(dir.path()).unwrap();
        assert_eq!(ring.active_kid(), first_next);
        assert_eq!(
            ring.jwks().keys.len(),
            6,
            "active, next and the retired key of each algorithm are published"
        );
        // A retired key still verifies what it signed, until it is removed.
        assert!(ring.verify(&signed_before).is_ok());

        let r2 = KeyringManifest::rotate(
            dir.path(),
            t(600 + 86_400),
            Duration::from_secs(300),
            day,
            false,
        )
        .unwrap();
        assert_eq!(r2.removed, vec![first_active.clone(), first_rsa_active]);
        assert!(!dir.path().join(format!("{first_active}.pem")).exists());
        assert_eq!(
            Keyring::load(dir.path())
                .unwrap()
                .verify(&signed_before)
                .unwrap_err(),
            super::super::jws::JwsError::UnknownKey
        );
    }

    fn a_ring_and_a_token_it_signed() -> (tempfile::TempDir, Keyring, String) {
        let dir = tempfile::tempdir().unwrap();
        KeyringManifest::create(dir.path(), t(0)).unwrap();
        let ring = Keyring::load(dir.path()).unwrap();
        let token = ring
            .sign("test+jwt", &serde_json::json!({"sub": "x"}))
            .unwrap();
        (dir, ring, token)
    }

    #[test]
    fn a_remembered_verification_covers_only_the_exact_token_text() {
        use super::super::jws::JwsError;
        let (_dir, ring, token) = a_ring_and_a_token_it_signed();
        for _ in 0..2 {
            let verified = ring.verify_reusable(&token).unwrap();
            assert_eq!(verified.header.typ.as_deref(), Some("test+jwt"));
            let claims: serde_json::Value = verified.claims().unwrap();
            assert_eq!(claims["sub"], "x");
        }
        let (signing_input, signature) = token.rsplit_once('.').unwrap();
        let (header, _) = signing_input.split_once('.').unwrap();
        let other_claims = URL_SAFE_NO_PAD.encode(br#"{"sub":"y"}"#);
        let mut flipped = signature.as_bytes().to_vec();
        flipped[10] = if flipped[10] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).unwrap();
        let none = format!(
            "{}.{other_claims}.{signature}",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#)
        );
        for (forged, expected) in [
            (
                format!("{header}.{other_claims}.{signature}"),
                JwsError::BadSignature,
            ),
            (format!("{signing_input}.{flipped}"), JwsError::BadSignature),
            (none, JwsError::Algorithm("none".into())),
        ] {
            // Twice: a refusal is not remembered as anything else either.
            assert_eq!(ring.verify_reusable(&forged).unwrap_err(), expected);
            assert_eq!(ring.verify_reusable(&forged).unwrap_err(), expected);
        }
        assert!(ring.verify_reusable(&token).is_ok());
    }

    #[test]
    fn a_key_rotated_out_no_longer_verifies_a_token_it_was_remembered_for() {
        let (dir, ring, token) = a_ring_and_a_token_it_signed();
        assert!(ring.verify_reusable(&token).is_ok());
        let day = Duration::from_secs(86_400);
        for at in [600, 600 + 86_400] {
            KeyringManifest::rotate(dir.path(), t(at), Duration::from_secs(300), day, false)
                .unwrap();
        }
        assert_eq!(
            Keyring::load(dir.path())
                .unwrap()
                .verify_reusable(&token)
                .unwrap_err(),
            super::super::jws::JwsError::UnknownKey
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
        let (_dir, ring, token) = a_ring_and_a_token_it_signed();
        let (header, _) = super::super::jws::inspect(&token).unwrap();
        assert_eq!(header.kid.as_deref(), Some(ring.active_kid()));
        assert_eq!(header.typ.as_deref(), Some("test+jwt"));
        let claims: serde_json::Value = ring.verify(&token).unwrap().claims().unwrap();
        assert_eq!(claims["sub"], "x");
    }

    #[test]
    fn rs256_id_tokens_verify_with_the_published_rsa_key_which_the_gateway_never_accepts() {
        let dir = tempfile::tempdir().unwrap();
        let m = KeyringManifest::create(dir.path(), t(0)).unwrap();
        let rsa_kid = m.find(KeyAlg::RS256, KeyState::Active).unwrap().kid.clone();
        let ring = Keyring::load(dir.path()).unwrap();
        let token = ring
            .sign_rs256("JWT", &serde_json::json!({"sub": "x"}))
            .unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
        assert_eq!(header.kid.as_deref(), Some(rsa_kid.as_str()));
        let jwk = ring.jwks().keys.iter().find(|k| k.kid == rsa_kid).unwrap();
        assert_eq!((jwk.kty.as_str(), jwk.alg.as_str()), ("RSA", "RS256"));
        let key =
            DecodingKey::from_rsa_components(jwk.n.as_deref().unwrap(), jwk.e.as_deref().unwrap())
                .unwrap();
        let data = jsonwebtoken::decode::<serde_json::Value>(&token, &key, &{
            let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
            v.required_spec_claims.clear();
            v.validate_exp = false;
            v
        })
        .unwrap();
        assert_eq!(data.claims["sub"], "x");
        // Not a key the gateway verifies its own tokens with.
        assert_eq!(
            ring.verify(&token).unwrap_err(),
            super::super::jws::JwsError::Algorithm("RS256".into())
        );
        assert!(super::super::jws::inspect(&token).is_err());
    }

    #[test]
    fn a_keyring_from_before_rs256_loads_and_its_next_rotation_starts_the_rsa_line() {
        let dir = tempfile::tempdir().unwrap();
        let mut m = KeyringManifest::create(dir.path(), t(0)).unwrap();
        m.keys.retain(|k| k.alg == KeyAlg::EdDSA);
        m.save(dir.path()).unwrap();
        let ring = Keyring::load(dir.path()).unwrap();
        assert_eq!(ring.jwks().keys.len(), 2);
        assert!(ring.sign_rs256("JWT", &serde_json::json!({})).is_err());
        let r = KeyringManifest::rotate(
            dir.path(),
            t(600),
            Duration::from_secs(300),
            Duration::from_secs(86_400),
            false,
        )
        .unwrap();
        assert!(r.rs256_activated.is_some());
        let ring = Keyring::load(dir.path()).unwrap();
        assert!(ring.sign_rs256("JWT", &serde_json::json!({})).is_ok());
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
