//! The README's walkthroughs, run as written: every shell block marked `<!-- run: NAME -->` goes,
//! in the README's order, to one `bash` with `set -euo pipefail`, against a gateway binary started
//! for the test (dev mode, a fresh data and key directory). Two things differ from a reader's
//! terminal: `cargo run [-q] --release --` stands for the built binary, and the gateway listens
//! on a free port instead of 8080 (the blocks' `8080` is replaced). So the README cannot drift
//! from the product: a renamed flag, a changed answer or a missing step fails here.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::repo;

/// The marked blocks, in order: (name, body).
fn marked_blocks() -> Vec<(String, String)> {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let mut blocks = Vec::new();
    let mut rest = readme.as_str();
    while let Some(at) = rest.find("<!-- run: ") {
        let after = &rest[at + 10..];
        let name = after[..after.find(" -->").unwrap()].to_owned();
        let fence = after
            .find("```sh\n")
            .expect("a shell block after the marker")
            + 6;
        let body_len = after[fence..].find("\n```").unwrap();
        blocks.push((name, after[fence..fence + body_len + 1].to_owned()));
        rest = &after[fence + body_len..];
    }
    blocks
}

struct Gateway(std::process::Child);

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_readme_walkthroughs_run_as_written() {
    let blocks = marked_blocks();
    let names: Vec<&str> = blocks.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["walkthrough", "level-2", "match", "kiosk", "personas"],
        "the marked blocks"
    );
    let dir = tempfile::tempdir().unwrap();
    // The blocks name repository files (config/sandbox/*.pem, examples/*) by relative path.
    for linked in ["config", "examples"] {
        std::os::unix::fs::symlink(repo().join(linked), dir.path().join(linked)).unwrap();
    }
    let port = crate::redis_outage::free_port();
    let log_path = dir.path().join("gateway.log");
    let gateway = Command::new(env!("CARGO_BIN_EXE_eidgw"))
        .args(["serve", "--port", &port.to_string()])
        .current_dir(dir.path())
        .env_remove("EIDGW_GATEWAY")
        .stdout(Stdio::null())
        // A file, not a pipe: nobody reads a pipe while the blocks run, and a full one would
        // stop the gateway mid-log.
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let gateway = Gateway(gateway);
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the gateway did not become ready"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    let script: String = blocks
        .iter()
        .map(|(name, body)| {
            format!(
                "echo '=== {name}'\n{}",
                body.replace("8080", &port.to_string())
            )
        })
        .collect();
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "set -euo pipefail\n\
             cargo() {{ [ \"$1\" = run ] || exit 90; shift; [ \"$1\" = -q ] && shift; \
             [ \"$1 $2\" = '--release --' ] || exit 91; shift 2; \"$EIDGW\" \"$@\"; }}\n{script}"
        ))
        .current_dir(dir.path())
        .env("EIDGW", env!("CARGO_BIN_EXE_eidgw"))
        .env_remove("EIDGW_GATEWAY")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        drop(gateway);
        let gateway_log = std::fs::read_to_string(&log_path).unwrap_or_default();
        panic!(
            "the walkthroughs stopped ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}\n--- gateway\n{}",
            out.status,
            gateway_log
                .lines()
                .rev()
                .take(30)
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    // What the comments in the blocks say the reader will see.
    for expected in [
        "VALID  level 1",
        "INVALID  reason: replayed",
        "VALID  level 2",
        "AUTHENTIC  card valid",
        "NOT AUTHENTIC  reason: face_mismatch",
        "NOT AUTHENTIC  reason: aa_failed",
        "NOT AUTHENTIC  reason: card_revoked",
        "exit 3",
        "\"personal_id\":true",
        "Quầy 3 · 4821",
        "\"token_type\":",
    ] {
        assert!(
            stdout.contains(expected),
            "no `{expected}` in:\n{stdout}\n{stderr}"
        );
    }
    assert_eq!(stdout.matches("exit 3").count(), 4, "{stdout}");
    let answers = std::fs::read_to_string(dir.path().join("answers.ndjson")).unwrap();
    assert_eq!(answers.lines().count(), 6, "{answers}");
    assert!(
        stderr.contains("6 lines: 6 answered, 0 refused"),
        "{stderr}"
    );
    let token = std::fs::read_to_string(dir.path().join("token.txt")).unwrap();
    assert_eq!(token.trim().split('.').count(), 3, "a JWS: {token}");
}
