//! The gateway on a Redis Cluster of its own whose primary is killed with SIGKILL under a
//! verification load: while the cluster promotes the replica the gateway answers 503 — never a
//! success it could not check — and then recovers by itself; no token verifies twice across the
//! failover, and what it acknowledged before stays used.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::citizen::{logged_in, verify};
use crate::helpers::*;
use crate::oidc::PORTAL;
use crate::redis_outage::eventually;

/// Six redis-servers started by `scripts/redis-cluster`, stopped when dropped.
pub struct LocalCluster {
    dir: tempfile::TempDir,
    pub urls: String,
}

impl LocalCluster {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let urls = stdout_of(
            Command::new(repo().join("scripts/redis-cluster"))
                .arg("start")
                .arg(dir.path()),
        )
        .trim()
        .to_owned();
        Self { dir, urls }
    }

    fn node(&self, port: u16) -> PathBuf {
        self.dir.path().join(port.to_string())
    }

    fn cli(&self, port: u16, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["-p", &port.to_string()])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    }

    fn ports(&self) -> Vec<u16> {
        self.urls
            .split(',')
            .map(|u| u.rsplit(':').next().unwrap().parse().unwrap())
            .collect()
    }

    /// The port of the primary serving the slot of `tag` (a hash tag's content), as a living
    /// node sees it.
    pub fn primary_of(&self, tag: &str) -> u16 {
        let port = self.ports()[0];
        let slot: u16 = self
            .cli(port, &["cluster", "keyslot", &format!("{{{tag}}}")])
            .trim()
            .parse()
            .unwrap();
        for line in self.cli(port, &["cluster", "nodes"]).lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if !fields[2].contains("master") || fields[2].contains("fail") {
                continue;
            }
            let serves = fields[8..].iter().any(|range| {
                let (a, b) = range.split_once('-').unwrap_or((range, range));
                match (a.parse::<u16>(), b.parse::<u16>()) {
                    (Ok(a), Ok(b)) => (a..=b).contains(&slot),
                    _ => false,
                }
            });
            if serves {
                let addr = fields[1].split('@').next().unwrap();
                return addr.rsplit(':').next().unwrap().parse().unwrap();
            }
        }
        panic!("no primary serves slot {slot}");
    }

    pub fn kill_9(&self, port: u16) {
        let pid = std::fs::read_to_string(self.node(port).join("redis.pid")).unwrap();
        let status = Command::new("kill")
            .args(["-9", pid.trim()])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        let _ = Command::new(repo().join("scripts/redis-cluster"))
            .arg("stop")
            .arg(self.dir.path())
            .status();
    }
}

/// One answer of `/v1/verify`: its status, the body, and when it came.
struct Answer {
    status: u16,
    body: Value,
    at: Instant,
}

async fn verify_once(app: &TestApp, token: &str) -> Answer {
    let res = app
        .client
        .post(app.url("/v1/verify"))
        .basic_auth(PORTAL, Some(sandbox_secret(PORTAL)))
        .json(&json!({ "token": token }))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let body = res.json().await.unwrap_or(Value::Null);
    Answer {
        status,
        body,
        at: Instant::now(),
    }
}

#[tokio::test]
async fn a_primary_killed_under_verification_load_fails_closed_and_single_use_holds() {
    let cluster = LocalCluster::start();
    let dir = tempfile::tempdir().unwrap();
    let mut settings = test_settings(Backend::RedisCluster, dir.path());
    settings.store.redis.url = cluster.urls.clone().into();
    settings.store.redis.connect_timeout_ms = 200;
    settings.store.redis.response_timeout_ms = 500;
    let app = spawn_with(settings, dir).await;
    assert!(eventually(&app, "/readyz", 200).await);

    let citizen = logged_in(&app, 0).await;
    let mut tokens = Vec::new();
    for i in 0..120 {
        tokens.push(citizen.token_for(&app, PORTAL, &format!("n{i}")).await);
    }
    let tokens = Arc::new(tokens);
    let app = Arc::new(app);
    // Eight clients take the tokens in turn; a token answered 503 goes back for a later try.
    let queue = Arc::new(Mutex::new((0..tokens.len()).rev().collect::<Vec<_>>()));
    let answers: Arc<Mutex<HashMap<usize, Vec<Answer>>>> = Arc::default();
    let stop_at = Instant::now() + Duration::from_secs(60);
    let workers: Vec<_> = (0..8)
        .map(|_| {
            let (app, tokens, queue, answers) =
                (app.clone(), tokens.clone(), queue.clone(), answers.clone());
            tokio::spawn(async move {
                while Instant::now() < stop_at {
                    let Some(i) = queue.lock().unwrap().pop() else {
                        return;
                    };
                    let answer = verify_once(&app, &tokens[i]).await;
                    let retry = answer.status == 503;
                    answers.lock().unwrap().entry(i).or_default().push(answer);
                    if retry {
                        queue.lock().unwrap().insert(0, i);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            })
        })
        .collect();

    // A third of the tokens verified, the primary holding this citizen's slot dies.
    let acknowledged = |answers: &HashMap<usize, Vec<Answer>>| {
        answers
            .values()
            .filter(|a| a.iter().any(|a| a.body["valid"] == true))
            .count()
    };
    while acknowledged(&answers.lock().unwrap()) < 40 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let victim = cluster.primary_of(citizen.id());
    let killed = Instant::now();
    cluster.kill_9(victim);
    for w in workers {
        w.await.unwrap();
    }

    let answers = std::mem::take(&mut *answers.lock().unwrap_or_else(|p| p.into_inner()));
    let mut refusals = Vec::new();
    let mut definitive_after = Vec::new();
    let mut reasons: std::collections::BTreeMap<String, usize> = Default::default();
    for (i, list) in answers.iter() {
        let valid = list.iter().filter(|a| a.body["valid"] == true).count();
        assert!(valid <= 1, "token {i} verified {valid} times");
        for a in list {
            match a.status {
                200 => {
                    let reason = a.body["reason"].as_str().unwrap_or("valid").to_owned();
                    *reasons.entry(reason).or_default() += 1;
                    if a.at > killed {
                        definitive_after.push(a.at);
                    }
                }
                503 => {
                    assert_eq!(a.body["status"], 503, "a problem document: {}", a.body);
                    refusals.push(a.at);
                }
                other => panic!("token {i}: {other} {}", a.body),
            }
        }
    }
    assert_eq!(answers.len(), tokens.len(), "every token was tried");
    for (i, list) in answers.iter() {
        assert!(
            list.last().is_some_and(|a| a.status == 200),
            "token {i} never got a definitive answer"
        );
    }
    let first_refusal = *refusals
        .iter()
        .min()
        .expect("the failover was seen as 503s");
    let last_refusal = *refusals.iter().max().unwrap();
    let recovered = definitive_after
        .iter()
        .filter(|t| **t > first_refusal)
        .min()
        .copied()
        .expect("definitive answers came again after the failover");
    eprintln!(
        "failover: primary on port {victim} killed; {} answers of 503, the first {} ms and the last {} ms after the kill; answers again {} ms after the kill; answers {reasons:?}",
        refusals.len(),
        (first_refusal - killed).as_millis(),
        (last_refusal - killed).as_millis(),
        (recovered - killed).as_millis()
    );

    // Whatever was acknowledged valid, before the kill or after, is used for good.
    let used: Vec<usize> = answers
        .iter()
        .filter(|(_, list)| list.iter().any(|a| a.body["valid"] == true))
        .map(|(i, _)| *i)
        .collect();
    assert!(used.len() >= 40, "{} acknowledged", used.len());
    for i in used {
        let again = verify_once(&app, &tokens[i]).await;
        assert_eq!(again.status, 200, "token {i}: {}", again.body);
        assert_eq!(again.body["valid"], false, "token {i}: {}", again.body);
    }

    // New tokens work as before, once.
    app.clock.advance(Duration::from_secs(31));
    let fresh = citizen.token_for(&app, PORTAL, "fresh").await;
    let first = verify_once(&app, &fresh).await;
    assert_eq!(first.body["valid"], true, "{} {}", first.status, first.body);
    assert_eq!(
        verify(&app, PORTAL, &fresh, None).await["reason"],
        "replayed"
    );
    eprintln!(
        "failover: a fresh token verified {} ms after the kill",
        killed.elapsed().as_millis()
    );
}

/// What each kind of key costs on a cluster (`MEMORY USAGE` on every primary), for the capacity
/// plan in the README. Run by `scripts/cluster-capacity`; not part of the suite.
#[tokio::test]
#[ignore = "a measurement: run scripts/cluster-capacity"]
async fn memory_per_key_kind_on_a_populated_cluster() {
    let citizens: usize = std::env::var("CAPACITY_CITIZENS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let verifications: usize = std::env::var("CAPACITY_VERIFICATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let cluster = LocalCluster::start();
    let dir = tempfile::tempdir().unwrap();
    let mut settings = test_settings(Backend::RedisCluster, dir.path());
    settings.store.redis.url = cluster.urls.clone().into();
    settings.registry.dev_seed_count = 1000;
    let prefix = settings.store.redis.key_prefix.clone();
    let app = spawn_with(settings, dir).await;
    for n in 0..citizens {
        let citizen = logged_in(&app, n).await;
        for i in 0..verifications {
            let token = citizen.token_for(&app, PORTAL, &format!("c{n}v{i}")).await;
            assert_eq!(verify(&app, PORTAL, &token, None).await["valid"], true);
        }
    }

    // kind → (keys, bytes, list entries)
    let mut kinds: std::collections::BTreeMap<String, (u64, u64, u64)> = Default::default();
    for port in cluster.ports() {
        let client = redis::Client::open(format!("redis://127.0.0.1:{port}")).unwrap();
        let mut c = client.get_multiplexed_async_connection().await.unwrap();
        let role: String = redis::cmd("ROLE")
            .query_async::<Vec<redis::Value>>(&mut c)
            .await
            .unwrap()
            .first()
            .map(|v| redis::from_redis_value(v.clone()).unwrap())
            .unwrap();
        if role != "master" {
            continue;
        }
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{prefix}:*"))
            .query_async(&mut c)
            .await
            .unwrap();
        for key in keys {
            let bytes: u64 = redis::cmd("MEMORY")
                .arg("USAGE")
                .arg(&key)
                .arg("SAMPLES")
                .arg(0)
                .query_async(&mut c)
                .await
                .unwrap();
            let rest = &key[prefix.len() + 1..];
            let mut parts = rest.splitn(3, ':');
            let space = parts.next().unwrap_or("");
            let second = parts.next().unwrap_or("");
            let kind = match space {
                "x" if second.starts_with('{') => "replay marker (with its history entry)".into(),
                "r" | "x" | "list" => format!("{space}:{second}"),
                other => other.to_owned(),
            };
            let entries: u64 = if space == "list" || space == "log" {
                redis::cmd("LLEN")
                    .arg(&key)
                    .query_async(&mut c)
                    .await
                    .unwrap()
            } else {
                0
            };
            let e = kinds.entry(kind).or_default();
            e.0 += 1;
            e.1 += bytes;
            e.2 += entries;
        }
    }
    println!(
        "{citizens} citizens, {verifications} verifications each, 1000 people in the registry"
    );
    println!(
        "{:<44} {:>7} {:>12} {:>14}",
        "kind", "keys", "bytes/key", "bytes/entry"
    );
    for (kind, (keys, bytes, entries)) in &kinds {
        let per_entry = if *entries > 0 {
            format!("{}", bytes / entries)
        } else {
            String::new()
        };
        println!("{kind:<44} {keys:>7} {:>12} {per_entry:>14}", bytes / keys);
    }
    let kind = |k: &str| kinds.get(k).map(|e| e.0).unwrap_or(0);
    // The sandbox personas hold accounts too.
    assert!(kind("r:accounts") as usize >= citizens);
    assert_eq!(kind("r:people"), 1000);
    assert_eq!(
        kind("replay marker (with its history entry)") as usize,
        citizens * verifications
    );
}
