//! The embedded store on a disk that fills up: while it cannot write, the gateway answers 503
//! `store_unavailable` (never a success it could not record, never a 500) and `/readyz` says so;
//! once space is back it opens its file again by itself, with no restart, and single use still
//! holds. The disk is a size-limited tmpfs, which needs root (as CI runs); elsewhere the tests
//! say so and pass over it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::citizen::logged_in;
use crate::helpers::{Backend, TestApp, spawn_with, test_settings};

const PORTAL: &str = "public-services-portal";

struct Tmpfs(PathBuf);

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn mount_tmpfs(dir: &Path, mib: u32) -> Option<Tmpfs> {
    std::fs::create_dir_all(dir).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
        .arg(dir)
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    mounted.then(|| Tmpfs(dir.to_owned()))
}

/// Writes zeros until the file system refuses more.
fn fill(dir: &Path) -> PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    let chunk = vec![0u8; 256 * 1024];
    while f.write_all(&chunk).and_then(|_| f.sync_data()).is_ok() {}
    // The last bytes, in smaller pieces.
    let small = vec![0u8; 4096];
    while f.write_all(&small).and_then(|_| f.sync_data()).is_ok() {}
    path
}

async fn verify(app: &TestApp, token: &str) -> (u16, Value) {
    let res = app
        .client
        .post(app.url("/v1/verify"))
        .basic_auth(PORTAL, Some(crate::helpers::sandbox_secret(PORTAL)))
        .json(&serde_json::json!({ "token": token }))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

async fn ready(app: &TestApp) -> u16 {
    app.get("/readyz").await.status().as_u16()
}

/// What the disk-full tests share: a gateway whose data directory is a 24 MiB tmpfs, with
/// `min_free_mib` as given, and a citizen's presentation tokens minted before the disk fills.
struct FullDisk {
    app: TestApp,
    data: PathBuf,
    tokens: Vec<String>,
    _disk: Tmpfs,
}

async fn on_a_small_disk(min_free_mib: u64) -> Option<FullDisk> {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let Some(disk) = mount_tmpfs(&data, 24) else {
        eprintln!(
            "NOT RUN: mounting a tmpfs needs root; the full-disk behaviour was not tested here"
        );
        return None;
    };
    let mut settings = test_settings(Backend::Embedded, dir.path());
    assert_eq!(settings.store.data_dir, data);
    settings.store.min_free_mib = min_free_mib;
    // No checkpoint during the test: every write appends to the journal, so the writes need
    // space as they go. With frequent checkpoints the journal is rewritten in place and redb
    // reuses the pages it freed, and a full disk may take longer than the test's tokens to bite.
    settings.store.checkpoint_interval_ms = 60_000;
    let app = spawn_with(settings, dir).await;
    let citizen = logged_in(&app, 0).await;
    let mut tokens = Vec::new();
    for i in 0..120 {
        tokens.push(citizen.token_for(&app, PORTAL, &format!("n{i}")).await);
    }
    assert_eq!(verify(&app, &tokens.pop().unwrap()).await.1["valid"], true);
    assert_eq!(ready(&app).await, 200);
    Some(FullDisk {
        app,
        data,
        tokens,
        _disk: disk,
    })
}

/// Verifies until the store refuses five times; every answer is a success it recorded or a 503.
async fn verify_until_refused(
    app: &TestApp,
    tokens: &mut Vec<String>,
) -> (Vec<String>, Vec<String>) {
    let mut refused = Vec::new();
    let mut answered_valid = Vec::new();
    while let Some(token) = tokens.pop() {
        let (status, body) = verify(app, &token).await;
        match status {
            200 => {
                assert_eq!(body["valid"], true, "{body}");
                answered_valid.push(token);
            }
            503 => {
                assert_eq!(body["code"], "store_unavailable", "{body}");
                refused.push(token);
                if refused.len() >= 5 {
                    break;
                }
            }
            other => panic!("a full disk answered {other}: {body}"),
        }
    }
    assert!(
        !refused.is_empty(),
        "verifications kept succeeding on a full disk ({} of them)",
        answered_valid.len()
    );
    (answered_valid, refused)
}

/// Space returns: the store is ready again by itself; what was refused was never marked used,
/// what was answered valid stays used.
async fn recovers(app: &TestApp, tokens: &[String], answered_valid: &[String], refused: &[String]) {
    let mut recovered = false;
    for _ in 0..100 {
        if ready(app).await == 200 {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered, "the store did not recover once space returned");
    let (status, body) = verify(app, &refused[0]).await;
    assert_eq!(
        (status, &body["valid"]),
        (200, &Value::Bool(true)),
        "{body}"
    );
    assert_eq!(verify(app, &refused[0]).await.1["reason"], "replayed");
    for token in answered_valid.iter().take(3) {
        assert_eq!(verify(app, token).await.1["reason"], "replayed");
    }
    for token in tokens.iter().take(3) {
        assert_eq!(verify(app, token).await.1["valid"], true);
    }
}

/// Below the low-water mark of free space the store stops writing at once: 503, not ready.
#[tokio::test]
async fn a_nearly_full_disk_stops_writes_and_readiness_until_space_returns() {
    let Some(mut disk) = on_a_small_disk(2).await else {
        return;
    };
    let filler = fill(&disk.data);
    let (answered_valid, refused) = verify_until_refused(&disk.app, &mut disk.tokens).await;
    assert!(
        answered_valid.is_empty(),
        "writes went on below the low-water mark"
    );
    assert_eq!(
        ready(&disk.app).await,
        503,
        "/readyz must say the store cannot write"
    );
    let res = disk.app.get("/readyz").await;
    assert_eq!(
        res.json::<Value>().await.unwrap()["code"],
        "store_unavailable"
    );
    std::fs::remove_file(filler).unwrap();
    recovers(&disk.app, &disk.tokens, &answered_valid, &refused).await;
}

/// With no low-water mark, the disk fills under a commit: the write fails (the journal's append,
/// or redb's, which then refuses every later one until the file is opened again). The gateway answers 503 — never a success, never a
/// 500 — and opens the file again by itself once writes succeed.
#[tokio::test]
async fn a_disk_that_fills_under_a_commit_answers_503_and_the_store_reopens_by_itself() {
    let Some(mut disk) = on_a_small_disk(0).await else {
        return;
    };
    let filler = fill(&disk.data);
    let (answered_valid, refused) = verify_until_refused(&disk.app, &mut disk.tokens).await;
    // Still full: the same token is still refused, not half-recorded.
    assert_eq!(verify(&disk.app, &refused[0]).await.0, 503);
    std::fs::remove_file(filler).unwrap();
    recovers(&disk.app, &disk.tokens, &answered_valid, &refused).await;
}
