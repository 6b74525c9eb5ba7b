//! With Redis unreachable the gateway fails closed (503 problem+json on anything needing state)
//! and recovers by itself, without a restart, when Redis comes back.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::helpers::*;

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A redis-server of the test's own; dropping it kills it with SIGKILL.
pub struct RedisProcess(Child);

impl RedisProcess {
    /// No persistence: a restart comes back empty.
    pub fn start(port: u16, dir: &std::path::Path) -> Self {
        Self::start_with(port, dir, &["--save", "", "--appendonly", "no"])
    }

    /// With the given persistence arguments, loading whatever `dir` holds.
    pub fn start_with(port: u16, dir: &std::path::Path, persistence: &[&str]) -> Self {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(persistence)
            .arg("--dir")
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed (scripts/test installs it)");
        let started = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
            && started.elapsed() < Duration::from_secs(5)
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        Self(child)
    }

    /// SIGKILL: no shutdown save, no last fsync.
    pub fn kill(mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for RedisProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Settings pointing at a Redis on `port` (which may not be running), with short timeouts.
pub fn settings_for_redis_on(port: u16) -> (eid_gateway::config::Settings, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = test_settings(Backend::Redis, dir.path());
    settings.store.redis.url = format!("redis://127.0.0.1:{port}").into();
    settings.store.redis.connect_timeout_ms = 200;
    settings.store.redis.response_timeout_ms = 500;
    (settings, dir)
}

pub async fn eventually(app: &TestApp, path: &str, status: u16) -> bool {
    for _ in 0..100 {
        if app.get(path).await.status().as_u16() == status {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

async fn assert_fails_closed(app: &TestApp) {
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 503);
    assert_eq!(ready.headers()["content-type"], "application/problem+json");
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["code"], "store_unavailable");
    assert!(
        !body.to_string().contains("127.0.0.1"),
        "no internal details"
    );
    // A relying party cannot be authenticated without state: 503, never a success.
    let me = app.me_as("vietsky-air").await;
    assert_eq!(me.status(), 503);
    // Stateless endpoints keep answering.
    assert_eq!(app.get("/healthz").await.status(), 200);
    assert_eq!(app.get("/.well-known/jwks.json").await.status(), 200);
}

#[tokio::test]
async fn a_gateway_started_while_redis_is_down_fails_closed_then_recovers() {
    let port = free_port();
    let (settings, dir) = settings_for_redis_on(port);
    let redis_dir = tempfile::tempdir().unwrap();
    let app = spawn_with(settings, dir).await;
    assert_fails_closed(&app).await;

    let _redis = RedisProcess::start(port, redis_dir.path());
    assert!(
        eventually(&app, "/readyz", 200).await,
        "recovers once Redis is up"
    );
    // The background preparation syncs the relying parties once Redis is back.
    let mut ok = false;
    for _ in 0..60 {
        let me = app.me_as("vietsky-air").await;
        if me.status() == 200 {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(ok, "relying parties usable after recovery");
}

#[tokio::test]
async fn losing_redis_mid_run_fails_closed_and_its_return_heals_the_gateway() {
    let port = free_port();
    let redis_dir = tempfile::tempdir().unwrap();
    let redis = RedisProcess::start(port, redis_dir.path());
    let (settings, dir) = settings_for_redis_on(port);
    // Wait for this Redis to accept connections before building.
    for _ in 0..50 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let app = spawn_with(settings, dir).await;
    assert!(eventually(&app, "/readyz", 200).await);

    drop(redis);
    assert!(eventually(&app, "/readyz", 503).await);
    assert_fails_closed(&app).await;

    let _redis = RedisProcess::start(port, redis_dir.path());
    assert!(
        eventually(&app, "/readyz", 200).await,
        "heals without a restart"
    );
}
