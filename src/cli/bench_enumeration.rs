//! `eidgw bench enumeration`: how long a running dev gateway takes to answer the requests a
//! probe would compare to learn who is in the registry or who has an account — registration
//! starts that match the registry or not, and logins refused for an unknown account, a wrong
//! password or a locked account. Cases are interleaved, so the machine's drift touches each
//! alike; the medians should agree (`scripts/timing-probe` runs it).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::Signer;
use serde_json::{Value, json};

use super::sim::find_person;

fn median_ms(times: &mut [Duration]) -> f64 {
    times.sort_unstable();
    times
        .get(times.len() / 2)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

fn persona(personas: &Value, role: &str) -> anyhow::Result<String> {
    personas
        .as_array()
        .and_then(|list| list.iter().find(|p| p["role"] == role))
        .and_then(|p| p["personal_id"].as_str())
        .map(str::to_owned)
        .with_context(|| format!("the gateway has no `{role}` persona (is it in dev mode?)"))
}

/// A start body for a person of the people file, as the app would send it.
fn start_body(
    people: &Path,
    id: &str,
    device: &ed25519_dalek::SigningKey,
) -> anyhow::Result<Value> {
    let p = find_person(people, id)?.person;
    Ok(json!({
        "personal_id": p.personal_id.as_str(),
        "full_name": p.full_name,
        "birth_date": p.birth_date,
        "phone": p.phone.as_str(),
        "device_public_key": URL_SAFE_NO_PAD.encode(device.verifying_key().as_bytes()),
    }))
}

fn medians<T>(cases: &[(&str, T)], times: &mut [Vec<Duration>]) -> Value {
    cases
        .iter()
        .zip(times.iter_mut())
        .map(|((case, _), t)| (case.to_string(), json!(median_ms(t))))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// Runs `tries` rounds; each round times one request of every case, in turn.
pub async fn run(gateway: &str, people: &Path, tries: usize) -> anyhow::Result<Value> {
    let base = gateway.trim_end_matches('/');
    let client = reqwest::Client::new();
    let personas: Value = client
        .get(format!("{base}/dev/personas"))
        .send()
        .await?
        .error_for_status()
        .context("GET /dev/personas (the probe needs a dev gateway)")?
        .json()
        .await?;
    let device = ed25519_dalek::SigningKey::from_bytes(&rand::random());
    let fresh = persona(&personas, "adult")?;
    let registered = persona(&personas, "level-1")?;
    let locked = persona(&personas, "locked")?;
    let matching = start_body(people, &fresh, &device)?;
    let mut wrong_field = matching.clone();
    wrong_field["birth_date"] = json!("1901-01-01");
    let mut unknown_id = matching.clone();
    unknown_id["personal_id"] = json!("001099999999");
    let existing = start_body(people, &registered, &device)?;
    let starts = [
        ("matches the registry", matching),
        ("unknown id", unknown_id),
        ("wrong field", wrong_field),
        ("account exists", existing),
    ];
    let logins = [
        ("unknown account", "001099999999".to_owned()),
        ("wrong password", registered.clone()),
        ("locked account", locked),
    ];
    let mut start_times = vec![Vec::with_capacity(tries); starts.len()];
    let mut login_times = vec![Vec::with_capacity(tries); logins.len()];
    for _ in 0..tries {
        for (i, (case, body)) in starts.iter().enumerate() {
            let t = Instant::now();
            let res = client
                .post(format!("{base}/v1/citizen/registrations"))
                .json(body)
                .send()
                .await?;
            let status = res.status();
            res.bytes().await?;
            start_times[i].push(t.elapsed());
            anyhow::ensure!(
                status == 202,
                "registration start ({case}) answered {status}"
            );
        }
        for (i, (case, id)) in logins.iter().enumerate() {
            let ch: Value = client
                .post(format!("{base}/v1/citizen/login/challenge"))
                .json(&json!({ "personal_id": id }))
                .send()
                .await?
                .json()
                .await?;
            let signature = device.sign(&crate::identity::session::login_message(
                ch["nonce"].as_str().unwrap_or_default(),
            ));
            let body = json!({
                "personal_id": id,
                "password": "not the password at all",
                "challenge_id": ch["challenge_id"],
                "device_signature": URL_SAFE_NO_PAD.encode(signature.to_bytes()),
            });
            let t = Instant::now();
            let res = client
                .post(format!("{base}/v1/citizen/login"))
                .json(&body)
                .send()
                .await?;
            let status = res.status();
            res.bytes().await?;
            login_times[i].push(t.elapsed());
            anyhow::ensure!(status == 401, "login ({case}) answered {status}");
        }
    }
    Ok(json!({
        "tries_per_case": tries,
        "registration_start_median_ms": medians(&starts, &mut start_times),
        "refused_login_median_ms": medians(&logins, &mut login_times),
    }))
}
