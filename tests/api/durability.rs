//! The real binary on the embedded store, killed with SIGKILL and restarted on the same data
//! directory, still has everything it acknowledged.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::helpers::*;

struct Gateway(Child);

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(dir: &std::path::Path, port: u16) -> Gateway {
    let child = Command::new(env!("CARGO_BIN_EXE_eidgw"))
        .current_dir(repo())
        .args(["serve", "--port", &port.to_string(), "--data-dir"])
        .arg(dir.join("data"))
        .arg("--keys-dir")
        .arg(dir.join("keys"))
        .env("EIDGW__REGISTRY__DEV_SEED_COUNT", "200")
        .env("EIDGW__LOG__LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Gateway(child)
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
    client
        .get(format!("{base}/dev/personas"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn acknowledged_writes_survive_kill_9_and_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();

    let gw = start(dir.path(), port);
    wait_ready(&client, &base).await;
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

    let gw = start(dir.path(), port);
    wait_ready(&client, &base).await;
    let again: serde_json::Value = personas_of(&client, &base).await;
    assert_eq!(personas, again, "the registry was kept, not re-seeded");
    drop(gw);

    let out = Command::new(env!("CARGO_BIN_EXE_eidgw"))
        .current_dir(repo())
        .args(["audit", "verify", "--data-dir"])
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
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
