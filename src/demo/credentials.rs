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
    /// The desk's kiosk camera key (signs its live face captures for the chip API).
    #[serde(default)]
    pub kiosk_key: Option<std::path::PathBuf>,
}

/// The enrolment officer the phone's "police desk" acts as to issue a chip card (the operator
/// API, as `eidgw sim card` calls it).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct OperatorCredential {
    pub id: String,
    pub secret: SecretString,
}

#[derive(Debug, Clone, serde::Deserialize)]
struct CredentialsFile {
    #[serde(default)]
    operator: Option<OperatorCredential>,
    #[serde(flatten)]
    desks: BTreeMap<String, DeskCredential>,
}

#[derive(Debug, Clone)]
pub struct Credentials {
    desks: BTreeMap<String, DeskCredential>,
    operator: Option<OperatorCredential>,
}

impl Credentials {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let file: CredentialsFile =
            toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        Ok(Self {
            desks: file.desks,
            operator: file.operator,
        })
    }

    /// The police desk's officer, when the file names one.
    pub fn operator(&self) -> Option<&OperatorCredential> {
        self.operator.as_ref()
    }

    /// Every desk's client_id.
    pub fn clients(&self) -> impl Iterator<Item = &str> {
        self.desks.keys().map(String::as_str)
    }

    /// The private_key_jwt key file of `client_id`, if it authenticates that way.
    pub fn private_key(&self, client_id: &str) -> Option<&Path> {
        self.desks.get(client_id)?.private_key.as_deref()
    }

    /// The kiosk camera key file of `client_id`, if its desk has a kiosk.
    pub fn kiosk_key(&self, client_id: &str) -> Option<&Path> {
        self.desks.get(client_id)?.kiosk_key.as_deref()
    }

    pub fn secret(&self, client_id: &str) -> anyhow::Result<&SecretString> {
        self.desks
            .get(client_id)
            .and_then(|c| c.secret.as_ref())
            .ok_or_else(|| anyhow::anyhow!("no secret for {client_id} in the demo's credentials"))
    }
}
