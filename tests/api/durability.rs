//! The real binary on the embedded store, killed with SIGKILL and restarted on the same data
//! directory, still has everything it acknowledged.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::helpers::*;

struct Gateway(Child);

const DEFAULT_CHECKPOINT_MS: u64 =
    eid_gateway::store::embedded::DEFAULT_CHECKPOINT_EVERY.as_millis() as u64;
/// Longer than any test here runs: what was acknowledged before a kill is in the journal alone.
const NO_CHECKPOINT_MS: u64 = 60_000;

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The gateway checkpoints its journal into the file every `checkpoint_interval_ms`: with a long
/// one, everything acknowledged before a kill is in the journal alone, and only replaying it at
/// the next start brings it back.
fn start(dir: &std::path::Path, port: u16, checkpoint_interval_ms: u64) -> Gateway {
    let child = Command::new(env!("CARGO_BIN_EXE_eidgw"))
        .current_dir(repo())
        .args(["serve", "--port", &port.to_string(), "--data-dir"])
        .arg(dir.join("data"))
        .arg("--keys-dir")
        .arg(dir.join("keys"))
        .env("EIDGW__REGISTRY__DEV_SEED_COUNT", "200")
        .env("EIDGW__LOG__LEVEL", "warn")
        .env(
            "EIDGW__STORE__CHECKPOINT_INTERVAL_MS",
            checkpoint_interval_ms.to_string(),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Gateway(child)
}

/// A gateway binary on a fresh data directory and a free port, ready.
struct Started {
    dir: tempfile::TempDir,
    port: u16,
    base: String,
    client: reqwest::Client,
    gateway: Gateway,
}

async fn start_fresh(checkpoint_interval_ms: u64) -> Started {
    let dir = tempfile::tempdir().unwrap();
    let port = crate::redis_outage::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let gateway = start(dir.path(), port, checkpoint_interval_ms);
    wait_ready(&client, &base).await;
    Started {
        dir,
        port,
        base,
        client,
        gateway,
    }
}

async fn wait_ready(client: &reqwest::Client, base: &str) {
    for _ in 0..300 {
        if let Ok(r) = client.get(format!("{base}/readyz")).send().await
            && r.status() == 200
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("gateway did not become ready");
}

async fn personas_of(client: &reqwest::Client, base: &str) -> serde_json::Value {
    get_json(client, &format!("{base}/dev/personas")).await
}

#[tokio::test]
async fn acknowledged_writes_survive_kill_9_and_a_restart() {
    let Started {
        dir,
        port,
        base,
        client,
        gateway: gw,
    } = start_fresh(NO_CHECKPOINT_MS).await;
    let personas: serde_json::Value = personas_of(&client, &base).await;
    // Each refused authentication is written to the audit log before the 401 is sent.
    for _ in 0..5 {
        let r = client
            .get(format!("{base}/v1/clients/me"))
            .basic_auth("vietsky-air", Some("wrong"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    drop(gw); // SIGKILL: no graceful shutdown

    let gw = start(dir.path(), port, NO_CHECKPOINT_MS);
    wait_ready(&client, &base).await;
    let again: serde_json::Value = personas_of(&client, &base).await;
    assert_eq!(personas, again, "the registry was kept, not re-seeded");
    drop(gw);

    let stdout = stdout_of(
        Command::new(env!("CARGO_BIN_EXE_eidgw"))
            .current_dir(repo())
            .args(["audit", "verify", "--data-dir"])
            .arg(dir.path().join("data")),
    );
    // keys generated + 2 starts + 5 refusals.
    let n: u64 = stdout
        .split("intact: ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(n >= 8, "{stdout}");
}

/// How many checkpoints the gateway has made (`/metrics`).
async fn checkpoints(client: &reqwest::Client, base: &str) -> u64 {
    let text = get_text(client, &format!("{base}/metrics")).await;
    assert!(
        text.contains("\neidgw_store_checkpoints_total "),
        "no checkpoint count in {text}"
    );
    crate::metrics::value(&text, "eidgw_store_checkpoints_total") as u64
}

/// Runs the CLI with the test gateway's data and keys; its stdout.
fn eidgw(dir: &std::path::Path, args: &[&str]) -> String {
    stdout_of(
        Command::new(env!("CARGO_BIN_EXE_eidgw"))
            .current_dir(repo())
            .args(args)
            .env("EIDGW__KEYS__DIR", dir.join("keys"))
            .env("EIDGW__STORE__DATA_DIR", dir.join("data")),
    )
}

async fn verify_at(client: &reqwest::Client, base: &str, token: &str) -> Option<serde_json::Value> {
    const PORTAL: &str = "public-services-portal";
    let r = client
        .post(format!("{base}/v1/verify"))
        .basic_auth(PORTAL, Some(sandbox_secret(PORTAL)))
        .json(&serde_json::json!({ "token": token }))
        .send()
        .await
        .ok()?;
    if r.status() != 200 {
        return None;
    }
    r.json().await.ok()
}

// No checkpoint before the kill: every acknowledged verification comes back from the journal.
#[tokio::test]
async fn verifications_acknowledged_before_kill_9_stay_used_and_in_the_history() {
    verifications_survive_kill_9(NO_CHECKPOINT_MS).await;
}

// Checkpoints while the verifications run: some come back from the file, the latest from the
// journal.
#[tokio::test]
async fn verifications_acknowledged_before_kill_9_survive_checkpoints_in_between() {
    verifications_survive_kill_9(DEFAULT_CHECKPOINT_MS).await;
}

async fn verifications_survive_kill_9(checkpoint_interval_ms: u64) {
    use futures_util::StreamExt;
    let Started {
        dir,
        port,
        base,
        client,
        gateway: gw,
    } = start_fresh(checkpoint_interval_ms).await;

    let personas = personas_of(&client, &base).await;
    let id = personas[0]["personal_id"].as_str().unwrap().to_owned();
    let wallet = dir.path().join("wallet");
    let sim = |args: &[&str]| {
        let mut all = vec![
            "sim",
            "--gateway",
            &base,
            "--wallet",
            wallet.to_str().unwrap(),
            "--json",
        ];
        all.extend_from_slice(args);
        eidgw(dir.path(), &all)
    };
    let people = dir.path().join("data/people.jsonl");
    sim(&[
        "register",
        "--personal-id",
        &id,
        "--people",
        people.to_str().unwrap(),
    ]);
    sim(&["login"]);
    let presented: serde_json::Value = serde_json::from_str(&sim(&[
        "present",
        "--rp",
        "public-services-portal",
        "--nonce",
        "crash",
    ]))
    .unwrap();
    let tokens_file = dir.path().join("tokens.txt");
    eidgw(
        dir.path(),
        &[
            "bench",
            "mint",
            "--template",
            presented["token"].as_str().unwrap(),
            "--count",
            "300",
            "--out",
            tokens_file.to_str().unwrap(),
        ],
    );
    let tokens: Vec<String> = std::fs::read_to_string(&tokens_file)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(tokens.len(), 300);

    // Sixteen verifications at a time; the gateway is killed once 120 are acknowledged, with
    // others in flight.
    let checkpoints_before = checkpoints(&client, &base).await;
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(String, String)>::new()));
    let load = {
        let (client, base, acknowledged) = (client.clone(), base.clone(), acknowledged.clone());
        let tokens = tokens.clone();
        tokio::spawn(async move {
            futures_util::stream::iter(tokens)
                .map(|token| {
                    let (client, base, acknowledged) =
                        (client.clone(), base.clone(), acknowledged.clone());
                    async move {
                        if let Some(answer) = verify_at(&client, &base, &token).await {
                            assert_eq!(answer["valid"], true, "{answer}");
                            let id = answer["verification_id"].as_str().unwrap().to_owned();
                            acknowledged.lock().unwrap().push((token, id));
                        }
                    }
                })
                .buffer_unordered(16)
                .collect::<Vec<()>>()
                .await
        })
    };
    while acknowledged.lock().unwrap().len() < 120 {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let checkpoints_during = checkpoints(&client, &base).await - checkpoints_before;
    drop(gw); // SIGKILL with verifications in flight
    if checkpoint_interval_ms == NO_CHECKPOINT_MS {
        assert_eq!(
            checkpoints_during, 0,
            "a checkpoint ran: not the journal alone"
        );
    } else {
        assert!(checkpoints_during > 0, "no checkpoint ran during the load");
    }
    load.await.unwrap();
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() < tokens.len(),
        "the kill came too late to test anything"
    );

    let gw = start(dir.path(), port, checkpoint_interval_ms);
    wait_ready(&client, &base).await;
    for (token, _) in &acknowledged {
        let again = verify_at(&client, &base, token).await.unwrap();
        assert_eq!(
            again["valid"], false,
            "a verified token was accepted again: {again}"
        );
        assert_eq!(again["reason"], "replayed", "{again}");
    }
    let history: serde_json::Value = serde_json::from_str(&sim(&["history"])).unwrap();
    let recorded: std::collections::HashSet<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["verification_id"].as_str())
        .collect();
    for (_, verification) in &acknowledged {
        assert!(
            recorded.contains(verification.as_str()),
            "verification {verification} was answered but is missing from the history"
        );
    }
    drop(gw);
}
