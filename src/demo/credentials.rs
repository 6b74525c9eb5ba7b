//! The desks' credentials, read from `config/sandbox/demo.toml`: they stay in the demo process
//! and never reach a browser.

use std::collections::BTreeMap;
use std::path::Path;

use secrecy::SecretString;

/// How one desk proves it is its relying party.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct DeskCredential {
    /// client_secret_basic.
    #[serde(default)]
    pub secret: Option<SecretString>,
    /// private_key_jwt: the Ed25519 key file.
    #[serde(default)]
    pub private_key: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone)]
pub struct Credentials(BTreeMap<String, DeskCredential>);

impl Credentials {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let all: BTreeMap<String, DeskCredential> =
            toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        Ok(Self(all))
    }

    /// Every desk's client_id.
    pub fn clients(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// The private_key_jwt key file of `client_id`, if it authenticates that way.
    pub fn private_key(&self, client_id: &str) -> Option<&Path> {
        self.0.get(client_id)?.private_key.as_deref()
    }

    pub fn secret(&self, client_id: &str) -> anyhow::Result<&SecretString> {
        self.0
            .get(client_id)
            .and_then(|c| c.secret.as_ref())
            .ok_or_else(|| anyhow::anyhow!("no secret for {client_id} in the demo's credentials"))
    }
}
