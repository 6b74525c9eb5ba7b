//! Load generation for `scripts/bench-verify`: bare rates (jsonwebtoken EdDSA validation,
//! argon2id) and HTTP load against a running gateway (`/v1/verify`, password login), at maximum
//! throughput or at a fixed rate. Latency at a fixed rate is measured from each request's
//! scheduled start, so a stalled server cannot hide its queueing (no coordinated omission).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

/// Latency summary in microseconds.
pub struct Summary {
    pub requests: usize,
    pub errors: usize,
    pub elapsed: Duration,
    pub p50_us: f64,
    pub p99_us: f64,
}

impl Summary {
    fn from(mut lat: Vec<u64>, errors: usize, elapsed: Duration) -> Self {
        lat.sort_unstable();
        let pct = |p: f64| {
            if lat.is_empty() {
                0.0
            } else {
                lat[((lat.len() - 1) as f64 * p) as usize] as f64
            }
        };
        Summary {
            requests: lat.len(),
            errors,
            elapsed,
            p50_us: pct(0.5),
            p99_us: pct(0.99),
        }
    }
    pub fn rate(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }
    pub fn json(&self) -> Value {
        json!({ "requests": self.requests, "errors": self.errors, "seconds": self.elapsed.as_secs_f64(),
                "per_second": self.rate(), "p50_ms": self.p50_us / 1000.0, "p99_ms": self.p99_us / 1000.0 })
    }
}

/// The bare jsonwebtoken EdDSA decode-and-validate rate on `threads` threads.
pub fn bare_jwt_rate(threads: usize, seconds: u64) -> anyhow::Result<f64> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("{e}"))?;
    let key = ed25519_dalek::SigningKey::from_bytes(&seed);
    use ed25519_dalek::pkcs8::EncodePrivateKey;
    let der = key.to_pkcs8_der().map_err(|e| anyhow::anyhow!("{e}"))?;
    let enc = jsonwebtoken::EncodingKey::from_ed_der(der.as_bytes());
    let dec = jsonwebtoken::DecodingKey::from_ed_der(key.verifying_key().as_bytes());
    let now = chrono::Utc::now().timestamp();
    let claims = json!({ "iss": "http://127.0.0.1:8080", "sub": "x".repeat(43), "aud": "public-services-portal", "iat": now,
        "exp": now + 3600, "jti": "y".repeat(43), "auth_time": now, "acr": crate::domain::Level::One.acr(), "amr": ["pwd", "swk"],
        "auth_level": 2, "nonce": "n" });
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA),
        &claims,
        &enc,
    )?;
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    validation.set_audience(&["public-services-portal"]);
    validation.set_issuer(&["http://127.0.0.1:8080"]);
    let count = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            let (count, token, dec, validation) = (count.clone(), &token, &dec, &validation);
            s.spawn(move || {
                let mut n = 0;
                while Instant::now() < deadline {
                    for _ in 0..64 {
                        if jsonwebtoken::decode::<Value>(token, dec, validation).is_ok() {
                            n += 1;
                        }
                    }
                }
                count.fetch_add(n, Ordering::Relaxed);
            });
        }
    });
    Ok(count.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64())
}

/// The bare argon2id verification rate with the configured parameters on `threads` threads:
/// the argon2 crate alone, each thread reusing its working memory (the fastest way to use it).
pub fn bare_argon2_rate(
    policy: crate::accounts::hashing::Argon2Policy,
    threads: usize,
    seconds: u64,
) -> anyhow::Result<f64> {
    let params = argon2::Params::new(
        policy.memory_kib,
        policy.iterations,
        policy.parallelism,
        Some(32),
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let salt = [7u8; 16];
    let a = argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        params.clone(),
    );
    let mut expected = [0u8; 32];
    a.hash_password_into(b"bench password", &salt, &mut expected)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let count = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            let (count, a) = (count.clone(), &a);
            let mut memory = vec![argon2::Block::default(); params.block_count()];
            s.spawn(move || {
                let mut n = 0;
                let mut out = [0u8; 32];
                while Instant::now() < deadline {
                    if a.hash_password_into_with_memory(
                        b"bench password",
                        &salt,
                        &mut out,
                        &mut memory[..],
                    )
                    .is_ok()
                        && out == expected
                    {
                        n += 1;
                    }
                }
                count.fetch_add(n, Ordering::Relaxed);
            });
        }
    });
    Ok(count.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64())
}

/// Signs `count` presentation tokens like `template` (a real one, for a registered citizen),
/// each with its own `jti` and ten minutes to live, with the gateway's active key.
pub fn mint(
    keys_dir: &std::path::Path,
    template: &str,
    count: usize,
) -> anyhow::Result<Vec<String>> {
    let ring = crate::tokens::Keyring::load(&crate::keys::KeyDir::new(keys_dir).signing())?;
    let payload = template
        .split('.')
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("not a JWS"))?;
    let mut claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload)?)?;
    let now = chrono::Utc::now().timestamp();
    claims["iat"] = json!(now);
    claims["exp"] = json!(now + 600);
    (0..count)
        .map(|i| {
            claims["jti"] = json!(format!("bench-{now}-{i}"));
            Ok(ring.sign(crate::identity::presentation::PRESENTATION_TYP, &claims)?)
        })
        .collect()
}

/// One unit of work against the gateway.
pub type Work = Arc<
    dyn Fn(reqwest::Client, usize) -> futures_util::future::BoxFuture<'static, bool> + Send + Sync,
>;

/// Runs `work` for `duration`: with `rate` None as fast as `connections` workers can, otherwise
/// at `rate` requests per second spread over the workers.
pub async fn load(
    work: Work,
    connections: usize,
    duration: Duration,
    rate: Option<f64>,
) -> Summary {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .build()
        .unwrap_or_default();
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (work, client, next) = (work.clone(), client.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let scheduled = match rate {
                    Some(r) => started + Duration::from_secs_f64(i as f64 / r),
                    None => Instant::now(),
                };
                if scheduled >= deadline {
                    break;
                }
                tokio::time::sleep_until(scheduled.into()).await;
                let ok = work(client.clone(), i).await;
                lat.push(scheduled.elapsed().as_micros() as u64);
                if !ok {
                    errors += 1;
                }
            }
            (lat, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        if let Ok((l, e)) = t.await {
            all.extend(l);
            errors += e;
        }
    }
    Summary::from(all, errors, started.elapsed())
}
