//! The hash-chained audit log on both backends: intact chains verify; an edited, removed,
//! reordered or truncated entry is found, also by `eidgw audit verify`.

use std::sync::Arc;

use eid_gateway::audit::{AuditKind, AuditLog, ChainStatus, Checkpoint, verify};
use eid_gateway::clock::{ManualClock, Timestamp};
use eid_gateway::store::SharedStore;
use redb::{ReadableDatabase, ReadableTable};
use serde_json::json;

use crate::both_backends;
use crate::helpers::*;

/// A store with five audit entries, and the means to tamper with it as someone with raw access
/// to the database would.
struct Fixture {
    backend: Backend,
    settings: eid_gateway::config::Settings,
    store: Option<SharedStore>,
    _dir: tempfile::TempDir,
}

impl Fixture {
    async fn with_entries(backend: Backend, n: u64) -> Self {
        Self::written_at(backend, n, 1_790_000_000).await
    }

    /// `n` entries written from `start` (seconds): the same `n` and `start` give the same chain.
    async fn written_at(backend: Backend, n: u64, start: i64) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let settings = test_settings(backend, dir.path());
        let store = eid_gateway::store::open(&settings.store).await.unwrap();
        let log = AuditLog::new(
            store.clone(),
            Arc::new(ManualClock::starting_at(Timestamp::from_secs(start))),
        );
        for i in 0..n {
            log.record(
                AuditKind::ClientAuthenticationFailed,
                "gateway",
                json!({ "attempt": i }),
            )
            .await
            .unwrap();
        }
        Self {
            backend,
            settings,
            store: Some(store),
            _dir: dir,
        }
    }

    async fn verify(&mut self) -> ChainStatus {
        if self.store.is_none() {
            self.store = Some(
                eid_gateway::store::open(&self.settings.store)
                    .await
                    .unwrap(),
            );
        }
        verify(self.store.as_ref().unwrap().as_ref()).await.unwrap()
    }

    fn redis_keys(&self) -> (redis::Client, String, String) {
        let prefix = &self.settings.store.redis.key_prefix;
        (
            redis::Client::open(redis_url()).unwrap(),
            eid_gateway::store::redis::layout::log(prefix, "audit"),
            eid_gateway::store::redis::layout::log_head(prefix, "audit"),
        )
    }

    fn db_path(&self) -> std::path::PathBuf {
        self.settings.store.data_dir.join("eid-gateway.redb")
    }

    /// Applies `f` to the raw entries (seq → bytes), embedded or Redis alike.
    async fn tamper(&mut self, f: impl FnOnce(&mut Vec<(u64, Vec<u8>)>)) {
        match self.backend {
            Backend::Embedded => {
                self.store = None; // closes the database
                let db = redb::Database::create(self.db_path()).unwrap();
                let table = eid_gateway::store::embedded::layout::log("log:audit");
                let mut entries: Vec<(u64, Vec<u8>)> = {
                    let r = db.begin_read().unwrap();
                    let t = r.open_table(table).unwrap();
                    t.iter()
                        .unwrap()
                        .map(|x| {
                            let (k, v) = x.unwrap();
                            (k.value(), v.value().to_vec())
                        })
                        .collect()
                };
                f(&mut entries);
                let w = db.begin_write().unwrap();
                {
                    let mut t = w.open_table(table).unwrap();
                    t.retain(|_, _| false).unwrap();
                    for (seq, bytes) in &entries {
                        t.insert(*seq, bytes.as_slice()).unwrap();
                    }
                }
                w.commit().unwrap();
            }
            Backend::Redis => {
                let (client, key, _) = self.redis_keys();
                let mut c = client.get_multiplexed_async_connection().await.unwrap();
                let raw: Vec<Vec<u8>> = redis::cmd("LRANGE")
                    .arg(&key)
                    .arg(0)
                    .arg(-1)
                    .query_async(&mut c)
                    .await
                    .unwrap();
                let mut entries: Vec<(u64, Vec<u8>)> =
                    raw.into_iter().zip(1..).map(|(v, i)| (i, v)).collect();
                f(&mut entries);
                let _: () = redis::cmd("DEL")
                    .arg(&key)
                    .query_async(&mut c)
                    .await
                    .unwrap();
                for (_, v) in entries {
                    let _: () = redis::cmd("RPUSH")
                        .arg(&key)
                        .arg(v)
                        .query_async(&mut c)
                        .await
                        .unwrap();
                }
            }
            Backend::RedisCluster => panic!("the audit tampering tests run on one Redis"),
        }
    }
}

fn edit(bytes: &mut Vec<u8>) {
    let text = String::from_utf8(bytes.clone())
        .unwrap()
        .replace("\"attempt\":2", "\"attempt\":9");
    *bytes = text.into_bytes();
}

both_backends!(
    a_lost_rolled_back_or_rewritten_chain_is_caught_by_its_checkpoint,
    an_untouched_chain_verifies,
    an_edited_entry_is_found,
    a_removed_entry_is_found,
    reordered_entries_are_found,
    a_truncated_tail_is_found,
    concurrent_writers_keep_one_unbroken_chain,
);

async fn a_lost_rolled_back_or_rewritten_chain_is_caught_by_its_checkpoint(b: Backend) {
    use eid_gateway::audit::{CheckpointError, advance_checkpoint, verify_against};
    let dir = tempfile::tempdir().unwrap();
    let path = Checkpoint::path(dir.path());
    let now = Timestamp::from_secs(1_790_000_100);
    let mut five = Fixture::with_entries(b, 5).await;
    let store = five.store.clone().unwrap();
    advance_checkpoint(store.as_ref(), &path, now)
        .await
        .unwrap();
    let cp = Checkpoint::read(&path).unwrap().unwrap();
    assert_eq!(cp.seq, 5);
    assert_eq!(
        verify_against(store.as_ref(), Some(&cp)).await.unwrap(),
        ChainStatus::Intact { entries: 5 }
    );
    assert_eq!(five.verify().await, ChainStatus::Intact { entries: 5 });

    // The store came back empty: "intact" by itself, lost against the checkpoint.
    let mut empty = Fixture::with_entries(b, 0).await;
    assert_eq!(empty.verify().await, ChainStatus::Intact { entries: 0 });
    let empty_store = empty.store.clone().unwrap();
    assert!(matches!(
        verify_against(empty_store.as_ref(), Some(&cp))
            .await
            .unwrap(),
        ChainStatus::Broken { at_seq: 1, .. }
    ));
    // Rolled back to an older copy of the same chain.
    let three = Fixture::with_entries(b, 3).await;
    let three_store = three.store.clone().unwrap();
    assert!(matches!(
        verify_against(three_store.as_ref(), Some(&cp))
            .await
            .unwrap(),
        ChainStatus::Broken { at_seq: 4, .. }
    ));
    // The checkpoint never moves back to meet a shorter chain: the evidence stays.
    assert!(matches!(
        advance_checkpoint(three_store.as_ref(), &path, now).await,
        Err(CheckpointError::Behind {
            chain: 3,
            checkpoint: 5
        })
    ));
    assert!(matches!(
        advance_checkpoint(empty_store.as_ref(), &path, now).await,
        Err(CheckpointError::Behind {
            chain: 0,
            checkpoint: 5
        })
    ));
    assert_eq!(Checkpoint::read(&path).unwrap().unwrap(), cp);
    // Another chain just as long, each entry linking: not the one the checkpoint saw.
    let other = Fixture::written_at(b, 5, 1_790_500_000).await;
    let other_store = other.store.clone().unwrap();
    assert!(matches!(
        verify_against(other_store.as_ref(), Some(&cp))
            .await
            .unwrap(),
        ChainStatus::Broken { at_seq: 5, .. }
    ));
    assert!(matches!(
        advance_checkpoint(other_store.as_ref(), &path, now).await,
        Err(CheckpointError::Rewritten { seq: 5 })
    ));
    // A longer chain moves the checkpoint on.
    AuditLog::new(store.clone(), Arc::new(ManualClock::now_from_system()))
        .record(AuditKind::GatewayStarted, "gateway", json!({}))
        .await
        .unwrap();
    advance_checkpoint(store.as_ref(), &path, now)
        .await
        .unwrap();
    assert_eq!(Checkpoint::read(&path).unwrap().unwrap().seq, 6);
}

async fn an_untouched_chain_verifies(b: Backend) {
    let mut f = Fixture::with_entries(b, 5).await;
    assert_eq!(f.verify().await, ChainStatus::Intact { entries: 5 });
}

async fn an_edited_entry_is_found(b: Backend) {
    let mut f = Fixture::with_entries(b, 5).await;
    f.tamper(|e| edit(&mut e[2].1)).await;
    assert!(matches!(
        f.verify().await,
        ChainStatus::Broken { at_seq: 3, .. }
    ));
}

async fn a_removed_entry_is_found(b: Backend) {
    let mut f = Fixture::with_entries(b, 5).await;
    f.tamper(|e| {
        e.remove(1);
        if b == Backend::Embedded {
            // Renumber the keys too, as a careful attacker would.
            for (i, item) in e.iter_mut().enumerate() {
                item.0 = i as u64 + 1;
            }
        }
    })
    .await;
    assert!(matches!(
        f.verify().await,
        ChainStatus::Broken { at_seq: 2, .. }
    ));
}

async fn reordered_entries_are_found(b: Backend) {
    let mut f = Fixture::with_entries(b, 5).await;
    f.tamper(|e| {
        let (a, c) = (e[1].1.clone(), e[3].1.clone());
        e[1].1 = c;
        e[3].1 = a;
    })
    .await;
    assert!(matches!(
        f.verify().await,
        ChainStatus::Broken { at_seq: 2, .. }
    ));
}

async fn a_truncated_tail_is_found(b: Backend) {
    let mut f = Fixture::with_entries(b, 5).await;
    f.tamper(|e| {
        e.pop();
    })
    .await;
    let status = f.verify().await;
    assert!(matches!(status, ChainStatus::Broken { .. }), "{status:?}");
}

async fn concurrent_writers_keep_one_unbroken_chain(b: Backend) {
    let mut f = Fixture::with_entries(b, 0).await;
    let store = f.store.clone().unwrap();
    // Two "instances" with their own AuditLog over the same store.
    let logs = [
        AuditLog::new(store.clone(), Arc::new(ManualClock::now_from_system())),
        AuditLog::new(store.clone(), Arc::new(ManualClock::now_from_system())),
    ];
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let log = logs[i % 2].clone();
            tokio::spawn(async move {
                log.record(AuditKind::GatewayStarted, "gateway", json!({ "i": i }))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut seqs = Vec::new();
    for t in tasks {
        seqs.push(t.await.unwrap());
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=20).collect::<Vec<u64>>());
    assert_eq!(f.verify().await, ChainStatus::Intact { entries: 20 });
}

#[tokio::test]
async fn the_audit_verify_command_fails_on_a_tampered_log() {
    let mut f = Fixture::with_entries(Backend::Embedded, 4).await;
    let run = |data_dir: &std::path::Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_eidgw"))
            .current_dir(repo())
            .args(["audit", "verify", "--data-dir"])
            .arg(data_dir)
            .output()
            .unwrap()
    };
    f.store = None;
    let ok = run(&f.settings.store.data_dir);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("intact: 4 entries"));
    f.tamper(|e| edit(&mut e[2].1)).await;
    let bad = run(&f.settings.store.data_dir);
    assert_eq!(bad.status.code(), Some(3), "a negative answer");
    assert!(String::from_utf8_lossy(&bad.stderr).contains("broken at entry 3"));
}

/// A running embedded gateway holds its store open: the command says how to check through it,
/// and checking through it (the operator API) works.
#[tokio::test]
async fn the_audit_verify_command_checks_a_running_gateway_through_its_api() {
    let app = spawn_app(Backend::Embedded).await;
    let eidgw = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_eidgw"))
            .current_dir(repo())
            .args(args)
            .env_remove("EIDGW_GATEWAY")
            .output()
            .unwrap()
    };
    let data_dir = app.services.settings.store.data_dir.display().to_string();
    let busy = eidgw(&["audit", "verify", "--data-dir", &data_dir]);
    assert_eq!(busy.status.code(), Some(1));
    let err = String::from_utf8_lossy(&busy.stderr);
    assert!(
        err.contains("open in a running gateway") && err.contains("--gateway"),
        "{err}"
    );
    let url = app.url("");
    let through = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_eidgw"))
            .current_dir(repo())
            .args(["audit", "verify", "--json", "--gateway", &url])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        through.status.success(),
        "{}",
        String::from_utf8_lossy(&through.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&through.stdout).unwrap();
    assert_eq!(report["intact"], true, "{report}");
    assert!(report["entries"].as_u64().unwrap() >= 1, "{report}");
    // The operator API wants operator credentials.
    let anonymous = app.get("/v1/operator/audit").await;
    assert_eq!(anonymous.status(), reqwest::StatusCode::UNAUTHORIZED);
}

/// An empty store verifies "intact" by itself; the command finds the checkpoint beside the data
/// and says the log was lost.
#[tokio::test]
async fn the_audit_verify_command_finds_a_lost_log_through_its_checkpoint() {
    let mut f = Fixture::with_entries(Backend::Embedded, 4).await;
    let data_dir = f.settings.store.data_dir.clone();
    let store = f.store.take().unwrap();
    eid_gateway::audit::advance_checkpoint(
        store.as_ref(),
        &Checkpoint::path(&data_dir),
        Timestamp::from_secs(1_790_000_100),
    )
    .await
    .unwrap();
    drop(store);
    let run = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_eidgw"))
            .current_dir(repo())
            .args(["audit", "verify", "--data-dir"])
            .arg(&data_dir)
            .output()
            .unwrap()
    };
    let ok = run();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("reaching its checkpoint at entry 4"));
    // The whole database is lost; a new one starts empty.
    std::fs::remove_file(data_dir.join("eid-gateway.redb")).unwrap();
    let lost = run();
    assert!(!lost.status.success());
    let err = String::from_utf8_lossy(&lost.stderr);
    assert!(
        err.contains("broken at entry 1") && err.contains("checkpoint"),
        "{err}"
    );
}
