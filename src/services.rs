//! The gateway's domain services, built once from configuration and shared by the HTTP layer,
//! background tasks and the CLI. Nothing here knows about HTTP.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;

use crate::audit::AuditLog;
use crate::clock::SharedClock;
use crate::config::Settings;
use crate::keys::{KeyDir, PairwiseSecret};
use crate::registry::Registry;
use crate::relying_parties::{ClientAuthenticator, RelyingParties};
use crate::store::SharedStore;
use crate::tokens::{Keyring, SharedKeyring};

pub struct Services {
    pub settings: Arc<Settings>,
    pub clock: SharedClock,
    pub store: SharedStore,
    pub keys: KeyDir,
    pub keyring: SharedKeyring,
    pub pairwise_secret: Arc<PairwiseSecret>,
    pub registry: Registry,
    pub relying_parties: RelyingParties,
    pub client_authenticator: ClientAuthenticator,
    pub audit: AuditLog,
}

impl Services {
    /// Wires the services over an opened store and a loaded key directory.
    pub fn new(
        settings: Arc<Settings>,
        clock: SharedClock,
        store: SharedStore,
        keys: KeyDir,
    ) -> anyhow::Result<Self> {
        let keyring: SharedKeyring =
            Arc::new(ArcSwap::from_pointee(Keyring::load(&keys.signing())?));
        let pairwise_secret = Arc::new(keys.pairwise_secret()?);
        let relying_parties = RelyingParties::new(store.clone());
        let client_authenticator = ClientAuthenticator::new(
            relying_parties.clone(),
            store.clone(),
            clock.clone(),
            settings.server.public_url.clone(),
            Duration::from_secs(settings.tokens.leeway_secs),
            Duration::from_secs(settings.tokens.client_assertion_max_lifetime_secs),
        );
        Ok(Self {
            registry: Registry::new(store.clone()),
            audit: AuditLog::new(store.clone(), clock.clone()),
            relying_parties,
            client_authenticator,
            keyring,
            pairwise_secret,
            keys,
            store,
            clock,
            settings,
        })
    }

    /// The issuer identifier (`iss` of every token, `aud` of client assertions).
    pub fn issuer(&self) -> &str {
        &self.settings.server.public_url
    }
}
