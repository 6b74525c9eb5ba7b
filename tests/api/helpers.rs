//! Test helpers: a real gateway on a random port per test, with a fresh store (a temporary
//! directory, or a unique Redis key prefix) and a manual clock.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use eid_gateway::clock::{ManualClock, SharedClock};
use eid_gateway::config::{Environment, Settings, StoreBackend};
use eid_gateway::services::Services;
use eid_gateway::startup::{Application, Overrides};
use eid_gateway::store::SharedStore;

/// Both backends, so every store-backed behaviour is tested twice; the store contract and the
/// cross-instance flows run on a Redis Cluster too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Embedded,
    Redis,
    RedisCluster,
}

/// Generates, for each async test `name` taking a [`Backend`], `mod name` with one `#[tokio::test]`
/// per listed backend: `backend_tests!([embedded => Embedded, redis => Redis] a, b)`.
#[macro_export]
macro_rules! backend_tests {
    ([$($variant:ident => $backend:ident),*] $(,)?) => {};
    ([$($variant:ident => $backend:ident),*] $name:ident $(, $rest:ident)* $(,)?) => {
        mod $name {
            $(
                #[tokio::test]
                async fn $variant() {
                    super::$name($crate::helpers::Backend::$backend).await
                }
            )*
        }
        $crate::backend_tests!([$($variant => $backend),*] $($rest),*);
    };
}

/// `mod embedded` and `mod redis` versions of an async test taking a [`Backend`].
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        $crate::backend_tests!([embedded => Embedded, redis => Redis] $($name),*);
    };
}

/// `mod embedded`, `mod redis` and `mod redis_cluster` versions of an async test: for the store
/// contract, which every backend must keep alike.
#[macro_export]
macro_rules! every_store {
    ($($name:ident),* $(,)?) => {
        $crate::backend_tests!(
            [embedded => Embedded, redis => Redis, redis_cluster => RedisCluster] $($name),*
        );
    };
}

/// `mod redis` and `mod redis_cluster` versions of a test of several gateway instances sharing
/// one store.
#[macro_export]
macro_rules! shared_stores {
    ($($name:ident),* $(,)?) => {
        $crate::backend_tests!([redis => Redis, redis_cluster => RedisCluster] $($name),*);
    };
}

/// Runs `command` to completion and answers its stdout; a failure stops the test with its
/// stderr.
pub fn stdout_of(command: &mut std::process::Command) -> String {
    let out = command.output().expect("the command starts");
    assert!(
        out.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// The body of `GET url` as text, for pages and servers outside a [`TestApp`] (a gateway
/// process, the demo); the status is the caller's to check where it matters.
pub async fn get_text(client: &reqwest::Client, url: &str) -> String {
    client.get(url).send().await.unwrap().text().await.unwrap()
}

/// The body of `GET url` as JSON (see [`get_text`]).
pub async fn get_json(client: &reqwest::Client, url: &str) -> serde_json::Value {
    client.get(url).send().await.unwrap().json().await.unwrap()
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Redis the test script started. Running the Redis half of the suite without it is an
/// error, not a silent pass.
pub fn redis_url() -> String {
    std::env::var("EIDGW_TEST_REDIS_URL").unwrap_or_else(|_| {
        panic!(
            "EIDGW_TEST_REDIS_URL is not set: run the suite with scripts/test, which starts a Redis"
        )
    })
}

/// The seed nodes of the Redis Cluster the test script started, comma-separated.
pub fn redis_cluster_urls() -> String {
    std::env::var("EIDGW_TEST_REDIS_CLUSTER_URLS").unwrap_or_else(|_| {
        panic!(
            "EIDGW_TEST_REDIS_CLUSTER_URLS is not set: run the suite with scripts/test, which starts a Redis Cluster"
        )
    })
}

pub fn init_test_logging() {
    if std::env::var("TEST_LOG").is_ok() {
        let _ = tracing_subscriber_init();
    }
}

fn tracing_subscriber_init() -> Result<(), ()> {
    eid_gateway::telemetry::init(&eid_gateway::config::LogSettings {
        level: "debug".into(),
        format: eid_gateway::config::LogFormat::Pretty,
    });
    Ok(())
}

/// Dev settings from the repository's config files, pointed at fresh temporary places.
pub fn test_settings(backend: Backend, dir: &Path) -> Settings {
    let mut s =
        Settings::load(&repo().join("config"), Environment::Dev).expect("repository config loads");
    s.server.port = 0;
    // The issuer becomes the bound address, as OpenID clients expect.
    s.server.public_url = "http://127.0.0.1:0".into();
    s.server.workers = 1;
    s.store.data_dir = dir.join("data");
    s.keys.dir = dir.join("keys");
    s.relying_parties.file = repo().join("config/relying_parties.toml");
    s.registry.dev_seed_count = 200;
    // Weak argon2 parameters keep the suite fast; the policy itself is unit-tested.
    s.security.argon2_memory_kib = 8;
    s.security.argon2_iterations = 1;
    s.store.backend = match backend {
        Backend::Embedded => StoreBackend::Embedded,
        Backend::Redis | Backend::RedisCluster => StoreBackend::Redis,
    };
    s.store.redis.url = redis_url_or_unused(backend).into();
    if backend == Backend::RedisCluster {
        s.store.redis.cluster = true;
        // What the README asks of a cluster: a claim counts once a replica holds it.
        s.store.redis.replica_acks = 1;
    }
    s.store.redis.key_prefix = format!("test-{}", uuid::Uuid::new_v4().simple());
    // The suite runs a dozen redis-servers and many gateways on two cores: an answer can take
    // longer than a production deployment's second without anything being wrong. (The outage
    // and failover tests set their own short timeouts.)
    s.store.redis.connect_timeout_ms = 5_000;
    s.store.redis.response_timeout_ms = 5_000;
    s
}

fn redis_url_or_unused(backend: Backend) -> String {
    match backend {
        Backend::Redis => redis_url(),
        Backend::RedisCluster => redis_cluster_urls(),
        Backend::Embedded => "redis://127.0.0.1:1".into(),
    }
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub services: Arc<Services>,
    pub clock: ManualClock,
    pub dir: tempfile::TempDir,
    /// The management listener's port, when `server.metrics_listen` is set.
    pub metrics_port: Option<u16>,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }
    pub fn store(&self) -> SharedStore {
        self.services.store.clone()
    }
    /// `GET /v1/clients/me` authenticated as a sandbox client with its published secret.
    pub async fn me_as(&self, client_id: &str) -> reqwest::Response {
        self.client
            .get(self.url("/v1/clients/me"))
            .basic_auth(client_id, Some(sandbox_secret(client_id)))
            .send()
            .await
            .expect("request sent")
    }
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request sent")
    }
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = test_settings(backend, dir.path());
    copy_dir(template_keys(), &settings.keys.dir);
    spawn_with(settings, dir).await
}

/// A gateway whose registry file holds the shipped relying parties plus `extra` (TOML
/// `[[relying_party]]` blocks), for clients a test needs with its own settings.
pub async fn spawn_with_relying_parties(backend: Backend, extra: &str) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let shipped = std::fs::read_to_string(repo().join("config/relying_parties.toml"))
        .expect("shipped relying parties");
    let file = dir.path().join("relying_parties.toml");
    std::fs::write(&file, format!("{shipped}\n{extra}")).expect("registry file");
    let mut settings = test_settings(backend, dir.path());
    settings.relying_parties.file = file;
    copy_dir(template_keys(), &settings.keys.dir);
    spawn_with(settings, dir).await
}

/// One dev key set per test process, copied into each test's key directory: generating the RSA
/// keys for every gateway would dominate the suite's time. (Tests that need a gateway to
/// generate its own keys build their settings with `test_settings` and call `spawn_with`.)
pub fn template_keys() -> &'static Path {
    static TEMPLATE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir").keep().join("keys");
        let now = eid_gateway::clock::Timestamp::from_secs(chrono::Utc::now().timestamp());
        eid_gateway::keys::KeyDir::new(&dir)
            .init(eid_gateway::keys::Origin::Dev, now)
            .expect("template keys");
        dir
    })
}

/// Copies a directory tree; `fs::copy` keeps the 0600 modes of private key files.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("key dir");
    for entry in std::fs::read_dir(from).expect("template dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy key file");
        }
    }
}

pub async fn spawn_with(settings: Settings, dir: tempfile::TempDir) -> TestApp {
    spawn_overridden(settings, dir, Overrides::default()).await
}

/// A gateway with `extra_routes` beside its own, behind the same middleware.
pub async fn spawn_with_routes(
    settings: Settings,
    dir: tempfile::TempDir,
    extra_routes: fn(&mut actix_web::web::ServiceConfig),
) -> TestApp {
    let overrides = Overrides {
        extra_routes,
        ..Overrides::default()
    };
    spawn_overridden(settings, dir, overrides).await
}

/// A gateway with parts replaced (routes, a wrapped store).
pub async fn spawn_overridden(
    settings: Settings,
    dir: tempfile::TempDir,
    overrides: Overrides,
) -> TestApp {
    init_test_logging();
    let clock = ManualClock::now_from_system();
    let shared: SharedClock = Arc::new(clock.clone());
    let app = Application::build_with(settings, shared, overrides)
        .await
        .expect("gateway builds");
    let port = app.port();
    let services = app.services();
    let metrics_port = app.metrics_port();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        metrics_port,
        address: format!("http://127.0.0.1:{port}"),
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .pool_idle_timeout(eid_gateway::startup::CLIENT_POOL_IDLE)
            .build()
            .expect("client"),
        services,
        clock,
        dir,
    }
}

/// The published sandbox secrets (README "Shipped relying parties").
pub fn sandbox_secret(client_id: &str) -> &'static str {
    match client_id {
        "vietsky-air" => "HCoSIskQYjFrDgzwPFkc8oa9fO5F7CAm_In003o657g",
        "hanoi-general-hospital" => "ecait3cnTTVDWk1YvoKdK8ku-659gd5A0Gk5i6be97s",
        "mekong-telecom" => "n9NY1JjMU3r4Jx5ik1jqPaUWBQWEWsdYfC3ZTbr0zrY",
        "public-services-portal" => "F3TqjW5j6qqjgPJYppCGu00tYqPZ98sF6vHPRxj7Cy4",
        "portal-rs256" => "VkDfnU8u53orD82ZU0HmwPc4j8AYMVgt71tMsyM8Usc",
        RS256_CLIENT => RS256_CLIENT_SECRET,
        other => panic!("no sandbox secret for {other}"),
    }
}

/// A test-only relying party registered for RS256 ID tokens (`client_secret_basic` with
/// [`RS256_CLIENT_SECRET`]), redirecting to the portal's loopback callback.
pub const RS256_CLIENT: &str = "rs256-rp";
pub const RS256_CLIENT_SECRET: &str = "rs256-test-secret-5b1c0f7e9a2d4c6b8e0f1a3c5d7e9f0b";

pub fn rs256_client_toml() -> String {
    use sha2::Digest;
    let digest = hex::encode(sha2::Sha256::digest(RS256_CLIENT_SECRET.as_bytes()));
    format!(
        "[[relying_party]]\nclient_id = \"{RS256_CLIENT}\"\nname = \"RS256 relying party\"\n\
         sector = \"rs256.example\"\nsandbox = true\nmin_level = 1\nmin_auth_level = 1\n\
         id_token_signed_response_alg = \"RS256\"\n\
         allowed_claims = [\"full_name\", \"birth_date\"]\n\
         redirect_uris = [\"http://127.0.0.1:9000/callback\"]\nrate_quota_per_minute = 600\n\
         [relying_party.authentication]\nmethod = \"client_secret_basic\"\n\
         secret_sha256 = \"{digest}\"\n"
    )
}

/// A JSON POST by a sandbox relying party with its published secret.
pub async fn rp_post(
    app: &TestApp,
    client: &str,
    path: &str,
    body: &serde_json::Value,
) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .basic_auth(client, Some(sandbox_secret(client)))
        .json(body)
        .send()
        .await
        .expect("request sent")
}

/// A JSON POST by `lotus-bank`, authenticated with a fresh `private_key_jwt` assertion.
pub async fn bank_post(app: &TestApp, path: &str, body: &serde_json::Value) -> reqwest::Response {
    let assertion = sign_assertion(eddsa_header(), &lotus_claims(app), &lotus_bank_key_pem());
    app.client
        .post(app.url(path))
        .header("authorization", format!("private_key_jwt {assertion}"))
        .json(body)
        .send()
        .await
        .expect("request sent")
}

/// An OAuth form POST by `lotus-bank` with a `client_assertion` (RFC 7523).
pub async fn bank_form(app: &TestApp, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
    let assertion = sign_assertion(eddsa_header(), &lotus_claims(app), &lotus_bank_key_pem());
    let mut fields: Vec<(&str, &str)> = form.to_vec();
    fields.push((
        "client_assertion_type",
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    ));
    fields.push(("client_assertion", &assertion));
    app.client
        .post(app.url(path))
        .form(&fields)
        .send()
        .await
        .expect("request sent")
}

/// The sandbox private key of `lotus-bank` (private_key_jwt).
pub fn lotus_bank_key_pem() -> String {
    std::fs::read_to_string(repo().join("config/sandbox/lotus-bank.ed25519.pem"))
        .expect("sandbox key")
}

/// Signs a client assertion with `pem` (Ed25519, PKCS#8) and a chosen header.
pub fn sign_assertion(
    header: jsonwebtoken::Header,
    claims: &serde_json::Value,
    pem: &str,
) -> String {
    use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
    let der = ed25519_dalek::SigningKey::from_pkcs8_pem(pem)
        .expect("ed25519 pem")
        .to_pkcs8_der()
        .expect("der");
    let key = jsonwebtoken::EncodingKey::from_ed_der(der.as_bytes());
    jsonwebtoken::encode(&header, claims, &key).expect("signs")
}

pub fn eddsa_header() -> jsonwebtoken::Header {
    jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA)
}

/// A correct assertion for `lotus-bank` at the app's current time.
pub fn lotus_claims(app: &TestApp) -> serde_json::Value {
    let now = app.clock_now_secs();
    serde_json::json!({
        "iss": "lotus-bank",
        "sub": "lotus-bank",
        "aud": app.services.issuer(),
        "iat": now,
        "exp": now + 120,
        "jti": uuid::Uuid::new_v4().to_string(),
    })
}

impl TestApp {
    pub fn clock_now_secs(&self) -> i64 {
        use eid_gateway::clock::Clock;
        self.clock.now().secs()
    }
}

/// A fresh Ed25519 key pair as PKCS#8 PEM (for "signed by another key" tests).
pub fn random_ed25519_pem() -> String {
    use ed25519_dalek::pkcs8::{EncodePrivateKey, spki::der::pem::LineEnding};
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).expect("random");
    ed25519_dalek::SigningKey::from_bytes(&seed)
        .to_pkcs8_pem(LineEnding::LF)
        .expect("pem")
        .to_string()
}

/// A second gateway instance sharing the first one's keys and store (same Redis key prefix), as
/// behind a load balancer.
pub async fn spawn_second(first: &TestApp) -> TestApp {
    let mut settings = (*first.services.settings).clone();
    settings.server.port = 0;
    let dir = tempfile::tempdir().expect("temp dir");
    settings.store.data_dir = dir.path().join("data");
    spawn_with(settings, dir).await
}

/// The sandbox operator of `config/dev.toml`.
pub const DEV_OPERATOR: (&str, &str) =
    ("dev-officer", "2ihdeO14OmlXIOhtvY8zBvhrVbba_mlpbuK-5NEbenw");
