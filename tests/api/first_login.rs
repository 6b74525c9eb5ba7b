//! README "Your first login in five minutes", run as written: the block between the
//! `<!-- first-login -->` markers goes to bash with `cargo run --release --` standing for the
//! built binary, the gateway in the background (on a free port in place of the README's 9123,
//! which another program may hold), and a fresh data and key directory.
//! Both registrations (the CLI's and RFC 7591's) then log a persona in.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::repo;

/// The walkthrough's commands, continuation lines joined, comments dropped.
fn walkthrough_commands() -> Vec<String> {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let start = readme
        .find("<!-- first-login -->")
        .expect("the walkthrough's marker");
    let end = readme
        .find("<!-- /first-login -->")
        .expect("its end marker");
    let block = &readme[start..end];
    let body = &block[block.find("```sh\n").unwrap() + 6..block.rfind("```").unwrap()];
    let mut commands = Vec::new();
    let mut current = String::new();
    for line in body.lines() {
        let line = line.trim();
        if current.is_empty() && (line.is_empty() || line.starts_with('#')) {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(part) => current.push_str(part),
            None => {
                current.push_str(line);
                commands.push(std::mem::take(&mut current));
            }
        }
    }
    commands
}

struct Gateway(std::process::Child);

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs a README command with its port 9123 replaced by `port` (the README's port may be taken
/// on a machine running the suite); `EIDGW_GATEWAY` points the example client there too.
fn bash(dir: &std::path::Path, port: u16, command: &str) -> std::process::Command {
    shell(dir, port, command, "")
}

/// [`bash`] for the gateway itself: bash becomes the gateway (`exec`), so that killing the child
/// stops the gateway instead of leaving it running, orphaned, after the test.
fn bash_exec(dir: &std::path::Path, port: u16, command: &str) -> std::process::Command {
    shell(dir, port, command, "exec ")
}

fn shell(dir: &std::path::Path, port: u16, command: &str, exec: &str) -> std::process::Command {
    let command = command.replace("9123", &port.to_string());
    let mut c = Command::new("bash");
    c.arg("-c")
        .arg(format!(
            "set -euo pipefail; cargo() {{ [ \"$1 $2 $3\" = 'run --release --' ] || exit 90; shift 3; {exec}\"$EIDGW\" \"$@\"; }}; {command}"
        ))
        .current_dir(dir)
        .env("EIDGW", env!("CARGO_BIN_EXE_eidgw"))
        .env("EIDGW__STORE__DATA_DIR", dir.join("data"))
        .env("EIDGW__KEYS__DIR", dir.join("keys"))
        .env("EIDGW_GATEWAY", format!("http://127.0.0.1:{port}"));
    c
}

fn run(dir: &std::path::Path, port: u16, command: &str) -> String {
    let out = bash(dir, port, command).output().unwrap();
    assert!(
        out.status.success(),
        "`{command}` failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_five_minute_walkthrough_runs_as_written() {
    let commands = walkthrough_commands();
    assert_eq!(commands.len(), 4, "{commands:#?}");
    assert!(
        commands[0].ends_with("serve --port 9123"),
        "{}",
        commands[0]
    );
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(repo().join("examples"), dir.path().join("examples")).unwrap();
    std::os::unix::fs::symlink(repo().join("config"), dir.path().join("config")).unwrap();

    let port = crate::redis_outage::free_port();
    let address = format!("127.0.0.1:{port}");
    let mut serve = bash_exec(dir.path(), port, &commands[0]);
    let mut gateway = Gateway(
        serve
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let started = Instant::now();
    // Ready, not merely listening: the first request must find the store open and keys loaded.
    while !ready(&address) {
        if let Ok(Some(status)) = gateway.0.try_wait() {
            let mut err = String::new();
            gateway
                .0
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            panic!("the gateway stopped ({status}): {err}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the gateway was not ready on {address}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    for command in &commands[1..3] {
        run(dir.path(), port, command);
    }
    let registered: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("my-app.json")).unwrap()).unwrap();
    assert!(
        registered["client_secret"]
            .as_str()
            .is_some_and(|s| s.len() >= 43)
    );
    let printed = run(dir.path(), port, &commands[3]);
    assert!(printed.contains("as the 'level-2' persona"), "{printed}");
    assert!(printed.contains("urn:vn:eid:level:2"), "{printed}");
    assert!(
        printed.contains("\"name\":"),
        "released full_name: {printed}"
    );
    assert!(
        printed.contains("\"birthdate\":"),
        "released birth_date: {printed}"
    );

    // The RFC 7591 registration, as the block's comment says.
    let other = commands[3].replace("my-app.json", "my-dcr-app.json");
    let printed = run(dir.path(), port, &other);
    assert!(printed.contains("as the 'level-2' persona"), "{printed}");
    // A refused persona ends with the gateway's words, not a success.
    let out = bash(
        dir.path(),
        port,
        &format!("{} --persona locked", commands[3]),
    )
    .output()
    .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("refused the sign-in"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Stopping the child stops the gateway: nothing is left listening after the test.
    drop(gateway);
    assert!(
        std::net::TcpStream::connect(&address).is_err(),
        "the gateway outlived its test on {address}"
    );
}

/// `GET /readyz` answers 200.
fn ready(addr: &str) -> bool {
    use std::io::Write;
    let Ok(mut stream) = std::net::TcpStream::connect(addr) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET /readyz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200")
}
