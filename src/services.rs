//! The gateway's domain services, built once from configuration and shared by the HTTP layer,
//! background tasks and the CLI. Nothing here knows about HTTP.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;

use crate::accounts::hashing::{Argon2Policy, SecretHasher};
use crate::accounts::{Accounts, LockoutPolicy};
use crate::audit::AuditLog;
use crate::biometrics::Matcher;
use crate::biometrics::liveness::Liveness;
use crate::challenges::Challenges;
use crate::chip::{CardIssuer, Chips, TrustStore};
use crate::clock::SharedClock;
use crate::config::Settings;
use crate::keys::{KeyDir, PairwiseSecret};
use crate::registry::Registry;
use crate::relying_parties::{ClientAuthenticator, RelyingParties};
use crate::sms::{Otps, SmsOutbox};
use crate::store::SharedStore;
use crate::telemetry::Metrics;
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
    pub accounts: Accounts,
    pub hasher: SecretHasher,
    pub lockout: LockoutPolicy,
    pub challenges: Challenges,
    pub liveness: Liveness,
    pub matcher: Matcher,
    pub otps: Otps,
    pub subjects: crate::identity::pairwise::SubjectDirectory,
    pub sms: SmsOutbox,
    pub chips: Chips,
    pub card_issuer: CardIssuer,
    pub metrics: Metrics,
}

impl Services {
    /// Wires the services over an opened store and a loaded key directory.
    pub fn new(
        settings: Arc<Settings>,
        clock: SharedClock,
        store: SharedStore,
        keys: KeyDir,
        metrics: Metrics,
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
        let sec = &settings.security;
        let policy = Argon2Policy {
            memory_kib: sec.argon2_memory_kib,
            iterations: sec.argon2_iterations,
            parallelism: sec.argon2_parallelism,
        };
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        let concurrency = if sec.hash_concurrency == 0 {
            cores
        } else {
            sec.hash_concurrency
        };
        let challenges = Challenges::new(store.clone(), clock.clone());
        let registry = Registry::new(store.clone());
        let chips = Chips::new(
            TrustStore::load(&keys.trust_store())?,
            registry.clone(),
            challenges.clone(),
            clock.clone(),
        );
        Ok(Self {
            chips,
            card_issuer: CardIssuer::new(keys.card_authority()),
            accounts: Accounts::new(store.clone()),
            hasher: SecretHasher::new(policy, concurrency)?,
            lockout: LockoutPolicy {
                threshold: sec.lockout_threshold,
                base: Duration::from_secs(sec.lockout_base_secs),
            },
            liveness: Liveness::new(challenges.clone()),
            challenges,
            matcher: Matcher::from_settings(&settings.biometrics),
            otps: Otps::new(store.clone(), clock.clone(), metrics.clone()),
            subjects: crate::identity::pairwise::SubjectDirectory::new(store.clone()),
            sms: SmsOutbox::new(store.clone(), clock.clone(), settings.is_dev()),
            registry,
            audit: AuditLog::new(store.clone(), clock.clone()),
            relying_parties,
            client_authenticator,
            keyring,
            pairwise_secret,
            keys,
            store,
            clock,
            settings,
            metrics,
        })
    }

    /// Whether a single-use credential issued at `issued_at` predates the store's restore fence
    /// (a Redis restart, failover or restore), so that its used-marker may have been lost: it is
    /// then refused, and the citizen or client gets a fresh one. The clock leeway covers
    /// instances whose clocks differ a little.
    pub fn issued_before_fence(&self, issued_at: crate::clock::Timestamp) -> bool {
        let leeway = Duration::from_secs(self.settings.tokens.leeway_secs);
        self.store
            .restore_fence()
            .is_some_and(|fence| issued_at <= fence.plus(leeway))
    }

    /// The metrics in the text exposition format, with the scrape-time figures read now.
    pub fn render_metrics(&self) -> String {
        let keyring = self.keyring.load();
        self.metrics.render(crate::telemetry::metrics::Snapshot {
            redis_reconnects: self.store.reconnects(),
            active_kid: keyring.active_kid(),
            active_key_created_at: keyring.active_created_at(),
            keyring_generation: keyring.generation(),
            checkpoints: self.store.checkpoints(),
            now: self.clock.now(),
        })
    }

    /// The issuer identifier (`iss` of every token, `aud` of client assertions).
    pub fn issuer(&self) -> &str {
        &self.settings.server.public_url
    }
}
