//! Typed configuration, layered: `config/default.toml` → `config/{environment}.toml` →
//! `EIDGW__SECTION__KEY` environment variables (→ command-line flags, applied by the CLI).
//!
//! The environment is chosen by `--env` or `EIDGW_ENV` (`dev` unless set). Every section denies unknown
//! keys and [`Settings::validate`] checks values, so a typo or a bad value stops the gateway at
//! start with a message naming the key, instead of being silently ignored.

use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// Which environment file to layer on top of the defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Environment {
    Dev,
    Production,
}

impl Environment {
    pub fn name(self) -> &'static str {
        match self {
            Environment::Dev => "dev",
            Environment::Production => "production",
        }
    }
}

/// Dev mode serves the sandbox (dev endpoints, auto-generated keys, seeded registry);
/// production mode refuses all of that.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Dev,
    Production,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub mode: Mode,
    pub server: ServerSettings,
    pub store: StoreSettings,
    pub keys: KeySettings,
    pub tokens: TokenSettings,
    pub registry: RegistrySettings,
    pub biometrics: BiometricSettings,
    pub security: SecuritySettings,
    pub relying_parties: RelyingPartySettings,
    pub log: LogSettings,
    /// Operator (enrolment officer) credentials for the operator API.
    #[serde(default)]
    pub operators: Vec<OperatorCredential>,
}

/// An operator's id and the SHA-256 digest (hex) of their generated 256-bit secret.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorCredential {
    pub id: String,
    pub secret_sha256: String,
    /// The Ed25519 public key (base64url) of the operator's enrolment kiosk, which signs face
    /// and fingerprint captures.
    #[serde(default)]
    pub kiosk_public_key: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    /// The issuer: the exact public base URL clients use (no trailing slash).
    pub public_url: String,
    /// HTTP worker threads; 0 means one per core.
    pub workers: usize,
    /// Largest accepted request body on ordinary endpoints.
    pub body_limit_bytes: usize,
    /// Load balancers and reverse proxies whose `X-Forwarded-For` is believed (addresses or
    /// CIDRs). Empty: the TCP peer is the client, whatever the header says.
    #[serde(default)]
    pub trusted_proxies: Vec<ProxyNetwork>,
    /// A separate management listener (`127.0.0.1:9464`) serving `/metrics`, which the public
    /// listener then no longer serves. Empty: `/metrics` on the public listener.
    #[serde(default)]
    pub metrics_listen: String,
}

fn default_min_free_mib() -> u64 {
    64
}

fn default_checkpoint_interval_ms() -> u64 {
    crate::store::embedded::DEFAULT_CHECKPOINT_EVERY.as_millis() as u64
}

/// A trusted proxy: one address (`10.0.0.7`) or a network (`10.0.0.0/8`, `fd00::/8`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct ProxyNetwork(ipnet::IpNet);

impl ProxyNetwork {
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if let Ok(net) = s.parse::<ipnet::IpNet>() {
            return Ok(Self(net.trunc()));
        }
        s.parse::<std::net::IpAddr>()
            .map(|ip| Self(ipnet::IpNet::from(ip)))
            .map_err(|_| format!("`{s}` is neither an IP address nor a CIDR network"))
    }

    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        self.0.contains(&ip.to_canonical())
    }
}

impl TryFrom<String> for ProxyNetwork {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreBackend {
    Embedded,
    Redis,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSettings {
    pub backend: StoreBackend,
    /// Where the embedded database (and the dev population file) live.
    pub data_dir: PathBuf,
    pub redis: RedisSettings,
    /// How often expired entries are swept from the embedded store.
    pub sweep_interval_secs: u64,
    /// The embedded store's page cache (redb), in MiB: the bulk of the gateway's memory.
    pub cache_mib: usize,
    /// Below this much free space on the data directory's disk (MiB) the embedded store stops
    /// writing and answers 503, instead of failing part-way through a commit; `/readyz` says
    /// not ready. 0 turns the check off.
    #[serde(default = "default_min_free_mib")]
    pub min_free_mib: u64,
    /// How long the embedded store's journaled writes may wait to be written into its file (a
    /// checkpoint). Writes queue behind each checkpoint, so rarer checkpoints leave fewer
    /// requests in a latency tail (each longer); a crash replays at most this much journal.
    #[serde(default = "default_checkpoint_interval_ms")]
    pub checkpoint_interval_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisSettings {
    /// May carry a password, hence secret: it is never logged. With `cluster`, a comma-separated
    /// list of seed nodes (any reachable one tells the client the whole cluster).
    pub url: SecretString,
    /// Redis Cluster: keys carry hash tags so that each atomic operation stays in one slot.
    pub cluster: bool,
    /// Prefix of every key, so deployments can share a Redis.
    pub key_prefix: String,
    pub connect_timeout_ms: u64,
    pub response_timeout_ms: u64,
    /// Replicas that must hold a single-use claim (replay marker, code redemption, history
    /// batch) before it counts (`WAIT`): a failover then cannot forget what was acknowledged.
    /// 0 trusts the primary alone.
    pub replica_acks: u32,
    pub replica_ack_timeout_ms: u64,
}

impl RedisSettings {
    /// The seed URLs: one without `cluster`, one or more with it.
    pub fn urls(&self) -> Vec<String> {
        self.url
            .expose_secret()
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySettings {
    pub dir: PathBuf,
    /// How often a running gateway re-reads the keyring (to pick up `keys rotate`).
    pub reload_interval_secs: u64,
    /// `Cache-Control: max-age` of the JWKS; a next key must be published at least this long
    /// before it may start signing.
    pub jwks_max_age_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenSettings {
    /// Lifetime of the longest-lived token the gateway signs; a retired key stays in the JWKS
    /// this long.
    pub max_lifetime_secs: u64,
    /// Clock-skew leeway when checking `exp`, `nbf`, `iat` (at most 30 s).
    pub leeway_secs: u64,
    /// Longest lifetime accepted for a relying party's `private_key_jwt` assertion.
    pub client_assertion_max_lifetime_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistrySettings {
    /// In dev mode an empty registry is seeded with this many synthetic people.
    pub dev_seed_count: u32,
    pub dev_seed: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BiometricSettings {
    /// Standard deviation, per dimension, of the noise the registry's enrolment adds to the true
    /// vector.
    pub enrolment_noise: f32,
    /// Standard deviation, per dimension, of a sensor's capture noise.
    pub capture_noise: f32,
    /// Cosine similarity at or above which a face capture matches.
    pub face_threshold: f32,
    /// Cosine similarity at or above which a fingerprint capture matches.
    pub fingerprint_threshold: f32,
}

/// Secrets hashing and brute-force protection.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecuritySettings {
    /// argon2id memory cost (KiB), iterations and lanes for passwords and passcodes.
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub argon2_parallelism: u32,
    /// Hashes computed at once (0 = one per core); more wait their turn.
    pub hash_concurrency: usize,
    /// Consecutive wrong secrets before a back-off, and the first back-off (doubling after).
    pub lockout_threshold: u32,
    pub lockout_base_secs: u64,
    /// Requests per minute one IP may make to the citizen login and registration endpoints.
    pub ip_requests_per_minute: u32,
    /// Whether a citizen may raise their account to level 2 from the app (chip read with
    /// active authentication + live face), rather than only in person.
    pub level2_from_app: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelyingPartySettings {
    /// The relying-party registry file.
    pub file: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Json,
    Pretty,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// A `tracing` filter directive, e.g. `info` or `eid_gateway=debug,info`.
    pub level: String,
    pub format: LogFormat,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration: {0}")]
    Source(String),
    #[error("configuration key `{key}`: {message}")]
    Invalid { key: String, message: String },
}

/// Hosts that only ever appear in examples: a production issuer on one of them is a mistake.
const PLACEHOLDER_HOSTS: [&str; 2] = ["://id.example.vn", "://example.com"];

/// `EIDGW__SECTION__KEY` variables. Lists (`server.trusted_proxies`) are comma-separated.
fn environment_variables() -> config::Environment {
    config::Environment::with_prefix("EIDGW")
        .prefix_separator("__")
        .separator("__")
        .try_parsing(true)
        .list_separator(",")
        .with_list_parse_key("server.trusted_proxies")
}

impl Settings {
    /// Loads the layered configuration from `config_dir` for `environment`.
    pub fn load(config_dir: &Path, environment: Environment) -> Result<Self, ConfigError> {
        let layered = config::Config::builder()
            .add_source(config::File::from(config_dir.join("default.toml")).required(true))
            .add_source(
                config::File::from(config_dir.join(format!("{}.toml", environment.name())))
                    .required(true),
            )
            .add_source(environment_variables())
            .build()
            .map_err(|e| ConfigError::Source(e.to_string()))?;
        // Through a JSON value so serde_path_to_error can name the offending key.
        let value: serde_json::Value = layered
            .try_deserialize()
            .map_err(|e| ConfigError::Source(e.to_string()))?;
        Self::from_value(value)
    }

    /// Parses and validates an already layered document.
    pub fn from_value(value: serde_json::Value) -> Result<Self, ConfigError> {
        let settings: Settings =
            serde_path_to_error::deserialize(value).map_err(|e| ConfigError::Invalid {
                key: e.path().to_string(),
                message: e.inner().to_string(),
            })?;
        settings.validate()?;
        Ok(settings)
    }

    pub fn is_dev(&self) -> bool {
        self.mode == Mode::Dev
    }

    /// Checks values that types alone cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: &str| {
            Err(ConfigError::Invalid {
                key: key.into(),
                message: message.into(),
            })
        };
        let url = &self.server.public_url;
        let production = self.mode == Mode::Production;
        if url.is_empty() {
            // Dev: the issuer is the address the gateway binds (see `startup`).
            if production {
                return invalid(
                    "server.public_url",
                    "must be set in production: the https URL clients reach the gateway at (the issuer of every token)",
                );
            }
        } else if !(url.starts_with("https://") || url.starts_with("http://")) || url.ends_with('/')
        {
            return invalid(
                "server.public_url",
                "must be an http(s) URL without a trailing slash",
            );
        }
        if production && !url.is_empty() && !url.starts_with("https://") {
            return invalid("server.public_url", "must be https in production");
        }
        if production && PLACEHOLDER_HOSTS.iter().any(|h| url.contains(h)) {
            return invalid(
                "server.public_url",
                "is a documentation placeholder: set the gateway's real public https URL",
            );
        }
        if production && self.operators.is_empty() {
            return invalid(
                "operators",
                "production needs at least one operator (card issuance, locks, relying-party registration)",
            );
        }
        if self.server.body_limit_bytes < 1024 || self.server.body_limit_bytes > 16 * 1024 * 1024 {
            return invalid(
                "server.body_limit_bytes",
                "must be between 1 KiB and 16 MiB",
            );
        }
        if self.store.backend == StoreBackend::Redis {
            let redis = &self.store.redis;
            let urls = redis.urls();
            let well_formed = |u: &String| {
                u.starts_with("redis://") || u.starts_with("rediss://") || u.starts_with("unix://")
            };
            if urls.is_empty() || !urls.iter().all(well_formed) {
                return invalid(
                    "store.redis.url",
                    "must be a redis://, rediss:// or unix:// URL (with cluster, a comma-separated list of them)",
                );
            }
            if urls.len() > 1 && !redis.cluster {
                return invalid(
                    "store.redis.url",
                    "several URLs are seed nodes of a cluster: set store.redis.cluster = true",
                );
            }
            if redis.replica_acks > 0
                && (redis.replica_ack_timeout_ms == 0
                    || redis.replica_ack_timeout_ms >= redis.response_timeout_ms)
            {
                return invalid(
                    "store.redis.replica_ack_timeout_ms",
                    "must be positive and shorter than response_timeout_ms when replica_acks is set",
                );
            }
        }
        let prefix = &self.store.redis.key_prefix;
        if prefix.is_empty()
            || !prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return invalid(
                "store.redis.key_prefix",
                "must be non-empty letters, digits, '-', '_' or '.'",
            );
        }
        if self.store.redis.connect_timeout_ms == 0 || self.store.redis.response_timeout_ms == 0 {
            return invalid("store.redis", "timeouts must be positive");
        }
        if self.store.sweep_interval_secs == 0 {
            return invalid("store.sweep_interval_secs", "must be positive");
        }
        if !(10..=60_000).contains(&self.store.checkpoint_interval_ms) {
            return invalid(
                "store.checkpoint_interval_ms",
                "must be between 10 and 60000",
            );
        }
        if self.keys.reload_interval_secs == 0 {
            return invalid("keys.reload_interval_secs", "must be positive");
        }
        if self.tokens.leeway_secs > 30 {
            return invalid(
                "tokens.leeway_secs",
                "must be at most 30 seconds (RFC 8725 keeps leeway small)",
            );
        }
        if self.tokens.max_lifetime_secs == 0 {
            return invalid("tokens.max_lifetime_secs", "must be positive");
        }
        if !(1..=300).contains(&self.tokens.client_assertion_max_lifetime_secs) {
            return invalid(
                "tokens.client_assertion_max_lifetime_secs",
                "must be between 1 and 300 seconds",
            );
        }
        let b = &self.biometrics;
        for (key, v) in [
            ("biometrics.enrolment_noise", b.enrolment_noise),
            ("biometrics.capture_noise", b.capture_noise),
            ("biometrics.face_threshold", b.face_threshold),
            ("biometrics.fingerprint_threshold", b.fingerprint_threshold),
        ] {
            if !(v > 0.0 && v < 1.0) {
                return invalid(key, "must be between 0 and 1");
            }
        }
        let sec = &self.security;
        if sec.argon2_iterations == 0
            || sec.argon2_parallelism == 0
            || sec.argon2_memory_kib < 8 * sec.argon2_parallelism
        {
            return invalid(
                "security.argon2_memory_kib",
                "argon2 needs iterations >= 1, parallelism >= 1, memory >= 8 KiB per lane",
            );
        }
        if self.mode == Mode::Production && sec.argon2_memory_kib < 19_456 {
            return invalid(
                "security.argon2_memory_kib",
                "must be at least 19456 (OWASP) in production",
            );
        }
        if sec.lockout_threshold == 0 || sec.lockout_base_secs == 0 {
            return invalid(
                "security.lockout_threshold",
                "threshold and base back-off must be positive",
            );
        }
        for op in &self.operators {
            let ok_id = !op.id.is_empty()
                && op.id.len() <= 64
                && op
                    .id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
            let ok_digest = op.secret_sha256.len() == 64
                && op.secret_sha256.bytes().all(|b| b.is_ascii_hexdigit());
            if !ok_id || !ok_digest {
                return invalid(
                    "operators",
                    "each operator needs an id (letters, digits, -_.) and a 64-hex-digit secret_sha256",
                );
            }
            let kiosk = op.kiosk_public_key.as_deref();
            if kiosk.is_some_and(|k| crate::tokens::jwk::parse_ed25519_public_key(k).is_err()) {
                return invalid(
                    "operators",
                    "kiosk_public_key must be an Ed25519 public key, base64url",
                );
            }
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log.level).is_err() {
            return invalid("log.level", "is not a valid tracing filter");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo_config() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config")
    }

    fn layered(env: Environment) -> serde_json::Value {
        let c = config::Config::builder()
            .add_source(config::File::from(repo_config().join("default.toml")))
            .add_source(config::File::from(
                repo_config().join(format!("{}.toml", env.name())),
            ))
            .build()
            .unwrap();
        c.try_deserialize().unwrap()
    }

    #[test]
    fn trusted_proxies_come_from_the_file_or_a_comma_separated_variable() {
        let env: std::collections::HashMap<String, String> = [(
            "EIDGW__SERVER__TRUSTED_PROXIES".to_owned(),
            "10.0.0.0/8, 192.0.2.7,fd00::/8".to_owned(),
        )]
        .into();
        let c = config::Config::builder()
            .add_source(config::File::from(repo_config().join("default.toml")))
            .add_source(config::File::from(repo_config().join("dev.toml")))
            .add_source(environment_variables().source(Some(env)))
            .build()
            .unwrap();
        let settings = Settings::from_value(c.try_deserialize().unwrap()).unwrap();
        let proxies = &settings.server.trusted_proxies;
        assert_eq!(proxies.len(), 3);
        assert!(proxies[0].contains("10.1.2.3".parse().unwrap()));
        assert!(proxies[1].contains("192.0.2.7".parse().unwrap()));
        assert!(!proxies[1].contains("192.0.2.8".parse().unwrap()));
        assert!(proxies[2].contains("fd00::1".parse().unwrap()));
        // The default trusts no one; garbage stops the start with the key named.
        assert!(
            Settings::from_value(layered(Environment::Dev))
                .unwrap()
                .server
                .trusted_proxies
                .is_empty()
        );
        let mut v = layered(Environment::Dev);
        v["server"]["trusted_proxies"] = serde_json::json!(["10.0.0.0/33"]);
        let err = Settings::from_value(v).unwrap_err().to_string();
        assert!(err.contains("server.trusted_proxies"), "{err}");
    }

    #[test]
    fn a_cluster_takes_several_seed_urls_and_one_redis_only_one() {
        let with = |url: &str, cluster: bool, acks: u32, ack_ms: u64| {
            let mut v = layered(Environment::Dev);
            v["store"]["backend"] = serde_json::json!("redis");
            v["store"]["redis"]["url"] = serde_json::json!(url);
            v["store"]["redis"]["cluster"] = serde_json::json!(cluster);
            v["store"]["redis"]["replica_acks"] = serde_json::json!(acks);
            v["store"]["redis"]["replica_ack_timeout_ms"] = serde_json::json!(ack_ms);
            Settings::from_value(v).map(|s| s.store.redis.urls())
        };
        let seeds = "redis://10.0.0.1:7000, redis://10.0.0.2:7000,redis://10.0.0.3:7000";
        assert_eq!(with(seeds, true, 1, 200).unwrap().len(), 3);
        let err = with(seeds, false, 0, 200).unwrap_err().to_string();
        assert!(err.contains("store.redis.cluster = true"), "{err}");
        let err = with("redis://a:1,http://b:2", true, 0, 200)
            .unwrap_err()
            .to_string();
        assert!(err.contains("store.redis.url"), "{err}");
        // WAIT must end before the client gives up on the answer (response_timeout_ms = 1000).
        let err = with(seeds, true, 1, 1000).unwrap_err().to_string();
        assert!(err.contains("replica_ack_timeout_ms"), "{err}");
        assert!(with(seeds, true, 0, 1000).is_ok());
    }

    #[test]
    fn shipped_dev_and_production_files_are_valid() {
        let dev = Settings::from_value(layered(Environment::Dev)).unwrap();
        assert_eq!(dev.mode, Mode::Dev);
        assert_eq!(dev.store.backend, StoreBackend::Embedded);
        // Production needs what only a deployment knows: its public URL and its operators.
        let mut v = layered(Environment::Production);
        v["server"]["public_url"] = serde_json::json!("https://id.gateway.test");
        v["operators"] =
            serde_json::json!([{ "id": "officer-1", "secret_sha256": "a".repeat(64) }]);
        let prod = Settings::from_value(v).unwrap();
        assert_eq!(prod.mode, Mode::Production);
    }

    #[test]
    fn a_checkpoint_interval_outside_its_range_is_refused_and_a_missing_one_defaults() {
        let with = |ms: Option<u64>| {
            let mut v = layered(Environment::Dev);
            match ms {
                Some(ms) => v["store"]["checkpoint_interval_ms"] = serde_json::json!(ms),
                None => {
                    v["store"]
                        .as_object_mut()
                        .unwrap()
                        .remove("checkpoint_interval_ms");
                }
            }
            Settings::from_value(v)
        };
        for bad in [0, 9, 60_001] {
            let err = with(Some(bad)).unwrap_err().to_string();
            assert!(err.contains("store.checkpoint_interval_ms"), "{bad}: {err}");
        }
        assert_eq!(with(Some(5000)).unwrap().store.checkpoint_interval_ms, 5000);
        // A configuration written before the setting existed still loads, with the default.
        assert_eq!(with(None).unwrap().store.checkpoint_interval_ms, 50);
    }

    #[test]
    fn production_refuses_an_unset_or_placeholder_issuer_and_no_operator() {
        let with = |url: &str, operators: serde_json::Value| {
            let mut v = layered(Environment::Production);
            v["server"]["public_url"] = serde_json::json!(url);
            v["operators"] = operators;
            Settings::from_value(v).map(|_| ()).unwrap_err().to_string()
        };
        let officer = serde_json::json!([{ "id": "officer-1", "secret_sha256": "a".repeat(64) }]);
        let err = with("", officer.clone());
        assert!(
            err.contains("server.public_url") && err.contains("must be set"),
            "{err}"
        );
        let err = with("https://id.example.vn", officer);
        assert!(err.contains("placeholder"), "{err}");
        let err = with("https://id.gateway.test", serde_json::json!([]));
        assert!(err.contains("operators"), "{err}");
        // Dev: unset is fine, the bound address is the issuer.
        let mut v = layered(Environment::Dev);
        v["server"]["public_url"] = serde_json::json!("");
        assert!(Settings::from_value(v).is_ok());
    }

    #[test]
    fn an_unknown_key_is_named_in_the_error() {
        let mut v = layered(Environment::Dev);
        v["server"]["prot"] = serde_json::json!(8080);
        let err = Settings::from_value(v).unwrap_err().to_string();
        assert!(err.contains("server") && err.contains("prot"), "{err}");
    }

    #[test]
    fn a_bad_value_is_named_in_the_error() {
        let mut v = layered(Environment::Dev);
        v["server"]["port"] = serde_json::json!("eighty");
        let err = Settings::from_value(v).unwrap_err().to_string();
        assert!(err.contains("server.port"), "{err}");

        let mut v = layered(Environment::Dev);
        v["tokens"]["leeway_secs"] = serde_json::json!(120);
        let err = Settings::from_value(v).unwrap_err().to_string();
        assert!(err.contains("tokens.leeway_secs"), "{err}");

        let mut v = layered(Environment::Dev);
        v["operators"][0]["kiosk_public_key"] = serde_json::json!("not-a-key");
        let err = Settings::from_value(v).unwrap_err().to_string();
        assert!(err.contains("kiosk_public_key"), "{err}");
    }

    #[test]
    fn production_requires_https() {
        let mut v = layered(Environment::Production);
        v["server"]["public_url"] = serde_json::json!("http://id.gateway.test");
        let err = Settings::from_value(v).unwrap_err().to_string();
        assert!(err.contains("server.public_url"), "{err}");
    }

    #[test]
    fn redis_url_is_redacted_in_debug_output() {
        let mut v = layered(Environment::Dev);
        v["store"]["redis"]["url"] = serde_json::json!("redis://:hunter2@localhost:6379");
        let s = Settings::from_value(v).unwrap();
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
