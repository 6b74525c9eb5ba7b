//! Building and running the gateway: keys, store, registry seeding, background tasks, HTTP.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::{App, HttpServer, middleware::from_fn, web};
use anyhow::Context;
use serde_json::json;

use crate::audit::AuditKind;
use crate::clock::{SharedClock, SystemClock};
use crate::config::{Mode, Settings};
use crate::http::{self, AppState};
use crate::keys::{KeyDir, Origin};
use crate::population::{self, personas};
use crate::registry::Registry;
use crate::relying_parties::RegistryFile;
use crate::services::Services;
use crate::store::{self, SharedStore};
use crate::telemetry::Metrics;
use crate::tokens::Keyring;

/// How often the audit chain's head is copied to the checkpoint outside it.
const AUDIT_CHECKPOINT_INTERVAL: Duration = Duration::from_secs(10);

/// How long the gateway keeps an idle HTTP/1.1 connection open (actix-web's default, said
/// once here because the clients below depend on it).
pub const KEEP_ALIVE: Duration = Duration::from_secs(5);

/// How long this crate's own HTTP clients (the demo's relying parties, the CLI, the tests) keep
/// an idle pooled connection: well under [`KEEP_ALIVE`]. A client that reuses a connection the
/// server is closing at that instant gets "connection closed before message completed" for a
/// request the server never read — a POST that cannot be retried blindly.
pub const CLIENT_POOL_IDLE: Duration = Duration::from_secs(2);
const _: () = assert!(CLIENT_POOL_IDLE.as_millis() * 2 <= KEEP_ALIVE.as_millis());

/// The issuer: `server.public_url` as set — or, unset in dev, the address just bound, so that
/// discovery, the banner and client-assertion audiences name the server clients reach (a
/// public URL ending in `:0` also means "wherever we were bound", for throwaway instances).
fn issuer_for(settings: &Settings, port: u16) -> String {
    let url = &settings.server.public_url;
    if let Some(base) = url.strip_suffix(":0") {
        return format!("{base}:{port}");
    }
    if !url.is_empty() {
        return url.clone();
    }
    let host = match settings.server.host.as_str() {
        "" | "0.0.0.0" | "::" | "[::]" => "127.0.0.1".to_owned(),
        h if h.contains(':') && !h.starts_with('[') => format!("[{h}]"),
        h => h.to_owned(),
    };
    format!("http://{host}:{port}")
}

/// Parts of the gateway a test may replace (see [`Application::build_with`]).
pub struct Overrides {
    /// Routes registered beside the gateway's own, behind the same middleware.
    pub extra_routes: fn(&mut web::ServiceConfig),
    /// Wraps the opened store (to count its operations, or inject faults).
    pub wrap_store: Option<Box<dyn FnOnce(SharedStore) -> SharedStore + Send>>,
}

impl Default for Overrides {
    fn default() -> Self {
        Self {
            extra_routes: |_| {},
            wrap_store: None,
        }
    }
}

pub struct Application {
    port: u16,
    server: Server,
    /// The management listener (`server.metrics_listen`), if configured: its port and server.
    management: Option<(u16, Server)>,
    services: Arc<Services>,
}

/// Makes sure a usable key set exists: dev mode creates one on first start (with a warning);
/// production mode requires `eidgw keys init` and refuses keys created in dev mode.
pub fn prepare_keys(settings: &Settings, clock: &SharedClock) -> anyhow::Result<(KeyDir, bool)> {
    let keys = KeyDir::new(&settings.keys.dir);
    let mut generated = false;
    if !keys.exists() {
        if settings.mode == Mode::Production {
            anyhow::bail!(
                "no keys in {}: run `eidgw keys init` before starting in production",
                keys.root().display()
            );
        }
        keys.init(Origin::Dev, clock.now())?;
        generated = true;
        tracing::warn!(dir = %keys.root().display(), "generated DEV keys; production mode will refuse them");
    }
    if settings.mode == Mode::Production && keys.origin()? == Origin::Dev {
        anyhow::bail!(
            "the keys in {} were generated in dev mode; production refuses them (create a new set with `eidgw keys init` in an empty directory)",
            keys.root().display()
        );
    }
    Ok((keys, generated))
}

/// Seeds an empty registry with the dev population and writes the people file beside the store
/// (the `sim` commands read the true biometric vectors from it).
pub async fn seed_dev_registry(
    settings: &Settings,
    registry: &Registry,
    clock: &SharedClock,
) -> anyhow::Result<()> {
    if registry.population().await?.is_some() {
        return Ok(());
    }
    let count = settings.registry.dev_seed_count as usize;
    let seed = settings.registry.dev_seed;
    let path = settings.store.data_dir.join("people.jsonl");
    let people: Vec<_> =
        tokio::task::spawn_blocking(move || population::generate(count, seed).collect()).await?;
    let write_path = path.clone();
    tokio::task::spawn_blocking(move || population::generate_to_file(&write_path, count, seed))
        .await??;
    population::import_file(
        registry,
        &path,
        settings.biometrics.enrolment_noise,
        clock.now(),
    )
    .await?;
    registry.set_personas(&personas::pick(&people)).await?;
    tracing::info!(people = count, file = %path.display(), "seeded the dev registry");
    Ok(())
}

fn print_personas(list: &[population::Persona], public_url: &str) {
    // Printed, not logged: these are synthetic sandbox people shown to the developer at the console.
    eprintln!("\nSandbox personas (also at {public_url}/dev/personas):");
    for p in list {
        eprintln!(
            "  {:<13} {}  {:<24} {}",
            p.role, p.personal_id, p.full_name, p.ready_for
        );
    }
    eprintln!();
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with_clock(settings, Arc::new(SystemClock)).await
    }

    /// Builds the gateway and binds its port (port 0 picks a free one, as tests do).
    pub async fn build_with_clock(settings: Settings, clock: SharedClock) -> anyhow::Result<Self> {
        Self::build_with(settings, clock, Overrides::default()).await
    }

    /// [`Application::build_with_clock`] with parts replaced: how tests reach behaviour no real
    /// deployment should have (a handler that panics on purpose, a store that counts or fails).
    pub async fn build_with(
        mut settings: Settings,
        clock: SharedClock,
        overrides: Overrides,
    ) -> anyhow::Result<Self> {
        let Overrides {
            extra_routes,
            wrap_store,
        } = overrides;
        http::middleware::install_panic_hook();
        let listener = TcpListener::bind((settings.server.host.as_str(), settings.server.port))
            .with_context(|| {
                format!(
                    "cannot bind {}:{}",
                    settings.server.host, settings.server.port
                )
            })?;
        let port = listener.local_addr()?.port();
        settings.server.public_url = issuer_for(&settings, port);
        let settings = Arc::new(settings);
        let (keys, generated) = prepare_keys(&settings, &clock)?;
        let metrics = Metrics::new()?;
        let mut store: SharedStore = store::metered::MeteredStore::wrap(
            store::open_with_clock(&settings.store, clock.clone()).await?,
            &metrics.store,
        );
        if let Some(wrap) = wrap_store {
            store = wrap(store);
        }
        let services = Arc::new(Services::new(
            settings.clone(),
            clock.clone(),
            store.clone(),
            keys,
            metrics,
        )?);

        let rp_file = RegistryFile::load(&settings.relying_parties.file, settings.mode)
            .map_err(anyhow::Error::msg)?;
        if settings.mode == Mode::Production
            && rp_file.relying_parties.is_empty()
            && services
                .relying_parties
                .list()
                .await
                .is_ok_and(|all| all.is_empty())
        {
            anyhow::bail!(
                "no relying party is registered (the file {} is empty, and so is the store): register one with `eidgw rp register` on a gateway, or in the file",
                settings.relying_parties.file.display()
            );
        }
        if let Err(e) = Self::prepare_state(&services, &rp_file, generated).await {
            // With Redis down the gateway still starts, answers 503 and recovers by itself.
            tracing::error!(error = %e, "could not prepare the store; will retry in the background");
            let services = services.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    if Self::prepare_state(&services, &rp_file, generated)
                        .await
                        .is_ok()
                    {
                        tracing::info!("store reachable again; state prepared");
                        break;
                    }
                }
            });
        }
        Self::spawn_background_tasks(&services);

        let state = web::Data::new(AppState {
            services: services.clone(),
        });
        let dev_mode = settings.is_dev();
        let body_limit = settings.server.body_limit_bytes;
        let management = Self::management_server(&settings, &state)?;
        let public_metrics = management.is_none();
        let mut server = HttpServer::new(move || {
            App::new()
                .wrap(from_fn(http::middleware::gateway_layer))
                .app_data(state.clone())
                .configure(|cfg| http::configure(cfg, dev_mode, body_limit, public_metrics))
                .configure(extra_routes)
                .default_service(web::to(|| async {
                    Err::<actix_web::HttpResponse, _>(http::ApiError::NotFound)
                }))
        })
        .keep_alive(KEEP_ALIVE)
        .listen(listener)?;
        if settings.server.workers > 0 {
            server = server.workers(settings.server.workers);
        }
        tracing::info!(port, issuer = %settings.server.public_url, backend = services.store.backend(), mode = ?settings.mode, "gateway listening");
        Ok(Self {
            port,
            server: server.run(),
            management,
            services,
        })
    }

    /// `/metrics` on its own listener, when `server.metrics_listen` names one.
    fn management_server(
        settings: &Settings,
        state: &web::Data<AppState>,
    ) -> anyhow::Result<Option<(u16, Server)>> {
        let address = settings.server.metrics_listen.trim();
        if address.is_empty() {
            return Ok(None);
        }
        let address: std::net::SocketAddr = address.parse().with_context(|| {
            format!(
                "server.metrics_listen `{address}` is not an address:port (e.g. 127.0.0.1:9464)"
            )
        })?;
        let listener = TcpListener::bind(address)
            .with_context(|| format!("cannot bind the metrics listener {address}"))?;
        let port = listener.local_addr()?.port();
        let state = state.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .configure(http::configure_management)
                .default_service(web::to(|| async {
                    Err::<actix_web::HttpResponse, _>(http::ApiError::NotFound)
                }))
        })
        .workers(1)
        .listen(listener)?
        .run();
        tracing::info!(%address, port, "metrics listening on the management listener");
        Ok(Some((port, server)))
    }

    /// Store-side preparation: relying parties from the file, the dev registry, startup audit.
    async fn prepare_state(
        services: &Services,
        rp_file: &RegistryFile,
        generated_keys: bool,
    ) -> anyhow::Result<()> {
        let settings = &services.settings;
        services.relying_parties.sync(rp_file).await?;
        if settings.is_dev() {
            seed_dev_registry(settings, &services.registry, &services.clock).await?;
            crate::identity::sandbox::prepare(services).await?;
            print_personas(
                &services.registry.personas().await?,
                &settings.server.public_url,
            );
        }
        if generated_keys {
            let kid = services.keyring.load().active_kid().to_owned();
            services
                .audit
                .record(
                    AuditKind::KeysGenerated,
                    "gateway",
                    json!({ "origin": "dev", "active_kid": kid }),
                )
                .await?;
        }
        services
            .audit
            .record(AuditKind::GatewayStarted, "gateway", json!({ "backend": services.store.backend(), "version": env!("CARGO_PKG_VERSION") }))
            .await?;
        Ok(())
    }

    fn spawn_background_tasks(services: &Arc<Services>) {
        let s = services.clone();
        tokio::spawn(async move {
            let path = crate::audit::Checkpoint::path(&s.settings.store.data_dir);
            let mut tick = tokio::time::interval(AUDIT_CHECKPOINT_INTERVAL);
            let mut last_problem = String::new();
            loop {
                tick.tick().await;
                let outcome =
                    crate::audit::advance_checkpoint(s.store.as_ref(), &path, s.clock.now()).await;
                let problem = match &outcome {
                    Ok(()) | Err(crate::audit::CheckpointError::Store(_)) => String::new(),
                    Err(e) => e.to_string(),
                };
                // Said once per finding, not every tick.
                if !problem.is_empty() && problem != last_problem {
                    tracing::error!(problem = %problem, checkpoint = %path.display(), "the audit chain no longer reaches its checkpoint");
                }
                last_problem = problem;
            }
        });
        let s = services.clone();
        tokio::spawn(async move {
            let mut tick =
                tokio::time::interval(Duration::from_secs(s.settings.keys.reload_interval_secs));
            tick.tick().await;
            loop {
                tick.tick().await;
                reload_keyring(&s).await;
            }
        });
        let s = services.clone();
        tokio::spawn(async move {
            let mut tick =
                tokio::time::interval(Duration::from_secs(s.settings.store.sweep_interval_secs));
            loop {
                tick.tick().await;
                if let Err(e) = s.store.sweep_expired(s.clock.now()).await {
                    tracing::warn!(error = %e, "sweeping expired entries failed");
                }
            }
        });
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn services(&self) -> Arc<Services> {
        self.services.clone()
    }

    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// The management listener's port, when `/metrics` has its own.
    pub fn metrics_port(&self) -> Option<u16> {
        self.management.as_ref().map(|(port, _)| *port)
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let management = self.management.map(|(_, server)| {
            let handle = server.handle();
            tokio::spawn(server);
            handle
        });
        let result = self.server.await;
        if let Some(handle) = management {
            handle.stop(true).await;
        }
        result
    }
}

/// Picks up `eidgw keys rotate`: swaps the keyring in and audits the rotation once across all
/// instances.
pub async fn reload_keyring(services: &Services) {
    let current = services.keyring.load().generation();
    match Keyring::load(&services.keys.signing()) {
        Ok(ring) if ring.generation() != current => {
            let generation = ring.generation();
            let kid = ring.active_kid().to_owned();
            services.keyring.store(Arc::new(ring));
            tracing::info!(generation, active_kid = %kid, "signing keyring reloaded");
            let details = json!({ "generation": generation, "active_kid": kid });
            if let Err(e) = services
                .audit
                .record_once(
                    &format!("signing-keyring-generation:{generation}"),
                    AuditKind::SigningKeyRotated,
                    "operator",
                    details,
                )
                .await
            {
                tracing::warn!(error = %e, "could not audit the key rotation");
            }
        }
        Ok(_) => {}
        Err(e) => {
            tracing::error!(error = %e, "cannot reload the signing keyring; keeping the current one")
        }
    }
}
