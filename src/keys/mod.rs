//! The key directory: token-signing keyring, pairwise-subject secret, card authority keys.
//!
//! Layout (under `keys.dir`):
//! ```text
//! origin                       "dev" (generated on a dev start) or "operator" (`keys init`)
//! signing/keyring.json         states of the token-signing keys (next / active / retired)
//! signing/<kid>.pem            Ed25519 private keys, PKCS#8, mode 0600
//! pairwise.secret              HMAC key for pairwise subjects, mode 0600
//! card-authority/csca.pem      CSCA private key, mode 0600 (+ csca.cert.json)
//! card-authority/ds-<n>.pem    Document Signer private key, mode 0600 (+ ds-<n>.cert.json)
//! trust/csca-<n>.cert.json     CSCA certificates the gateway trusts (the trust store)
//! ```
//! Private key files are created with mode 0600 and refused when group or others can read them.
//! Their contents never reach a log line: loaded keys are zeroized on drop and redact `Debug`.

mod files;

pub(crate) use files::random_bytes as files_random;
pub use files::{read_private, write_private, write_public};

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret, SecretBox};

use crate::chip::authority::CardAuthority;
use crate::clock::Timestamp;
use crate::tokens::keyring::KeyringManifest;

/// Who created the key set: dev keys are refused in production.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Dev,
    Operator,
}

impl Origin {
    fn as_str(self) -> &'static str {
        match self {
            Origin::Dev => "dev",
            Origin::Operator => "operator",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("no keys in {0}: run `eidgw keys init` (dev mode creates them on first start)")]
    Missing(PathBuf),
    #[error("keys already exist in {0}; use `eidgw keys rotate`")]
    AlreadyExist(PathBuf),
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("key file {0} can be read by group or others: chmod 600 it")]
    Permissions(PathBuf),
    #[error(
        "refusing to rotate: the next key {kid} was published {published_secs}s ago, less than the JWKS cache lifetime ({max_age_secs}s); relying parties may not have it yet (use --force to override)"
    )]
    NextKeyTooFresh {
        kid: String,
        published_secs: u64,
        max_age_secs: u64,
    },
    #[error("invalid key material in {0}")]
    Invalid(PathBuf),
}

/// The 32-byte secret from which pairwise subjects are derived.
pub struct PairwiseSecret(SecretBox<[u8; 32]>);

impl PairwiseSecret {
    pub fn expose(&self) -> &[u8; 32] {
        self.0.expose_secret()
    }
}

impl std::fmt::Debug for PairwiseSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PairwiseSecret(<redacted>)")
    }
}

/// Paths inside the key directory.
#[derive(Debug, Clone)]
pub struct KeyDir {
    root: PathBuf,
}

impl KeyDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }
    pub fn root(&self) -> &Path {
        &self.root
    }
    pub fn signing(&self) -> PathBuf {
        self.root.join("signing")
    }
    pub fn card_authority(&self) -> PathBuf {
        self.root.join("card-authority")
    }
    pub fn trust_store(&self) -> PathBuf {
        self.root.join("trust")
    }
    fn origin_file(&self) -> PathBuf {
        self.root.join("origin")
    }
    fn pairwise_file(&self) -> PathBuf {
        self.root.join("pairwise.secret")
    }

    pub fn exists(&self) -> bool {
        self.origin_file().exists()
    }

    pub fn origin(&self) -> Result<Origin, KeyError> {
        let path = self.origin_file();
        match std::fs::read_to_string(&path) {
            Ok(s) if s.trim() == "dev" => Ok(Origin::Dev),
            Ok(s) if s.trim() == "operator" => Ok(Origin::Operator),
            Ok(_) => Err(KeyError::Invalid(path)),
            Err(_) => Err(KeyError::Missing(self.root.clone())),
        }
    }

    /// Creates a complete key set: signing keyring (active + next), pairwise secret, CSCA, one DS
    /// and the trust store. Refuses to overwrite an existing set.
    pub fn init(&self, origin: Origin, now: Timestamp) -> Result<(), KeyError> {
        if self.exists() {
            return Err(KeyError::AlreadyExist(self.root.clone()));
        }
        files::create_dir(&self.root)?;
        KeyringManifest::create(&self.signing(), now)?;
        let mut secret = [0u8; 32];
        files::random_bytes(&mut secret)?;
        write_private(
            &self.pairwise_file(),
            URL_SAFE_NO_PAD.encode(secret).as_bytes(),
        )?;
        zeroize::Zeroize::zeroize(&mut secret);
        CardAuthority::create(&self.card_authority(), &self.trust_store(), now)?;
        // Written last: its presence means the set is complete.
        write_public(&self.origin_file(), origin.as_str().as_bytes())?;
        Ok(())
    }

    pub fn pairwise_secret(&self) -> Result<PairwiseSecret, KeyError> {
        let path = self.pairwise_file();
        let text = read_private(&path)?;
        let bytes = URL_SAFE_NO_PAD
            .decode(text.expose_secret().trim())
            .map_err(|_| KeyError::Invalid(path.clone()))?;
        let arr: [u8; 32] = bytes.try_into().map_err(|_| KeyError::Invalid(path))?;
        Ok(PairwiseSecret(SecretBox::new(Box::new(arr))))
    }
}
