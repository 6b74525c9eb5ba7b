//! `eidgw bench …`: repeatable measurements (see also `scripts/bench-*`).

use std::io::BufRead;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use clap::Subcommand;
use rand::SeedableRng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha12Rng;

use super::StoreArgs;
use crate::config::Settings;
use crate::domain::PersonalId;
use crate::registry::Registry;

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// False-match and false-non-match rates at the configured thresholds, and a picture of the
    /// genuine and impostor score distributions.
    Biometrics {
        /// How many genuine (same person) comparisons to score.
        #[arg(long, default_value_t = 5_000)]
        genuine: usize,
        /// How many impostor (different people) comparisons to score.
        #[arg(long, default_value_t = 50_000)]
        impostor: usize,
        /// Where to write the SVG picture.
        #[arg(long, default_value = "biometric-scores.svg")]
        out: PathBuf,
    },
    /// The bare jsonwebtoken EdDSA decode-and-validate rate.
    Jwt {
        /// Threads to measure on.
        #[arg(long, default_value_t = 2)]
        threads: usize,
        /// How long to measure, in seconds.
        #[arg(long, default_value_t = 5)]
        seconds: u64,
    },
    /// Chip verification throughput on one core: parsing, passive authentication (DS chain,
    /// SOD signature, data-group hashes, MRZ) and active authentication, no face, no registry.
    Chip {
        /// How long to measure, in seconds.
        #[arg(long, default_value_t = 5)]
        seconds: u64,
    },
    /// The bare argon2id verification rate with the configured parameters.
    Argon2 {
        /// Threads to measure on.
        #[arg(long, default_value_t = 2)]
        threads: usize,
        /// How long to measure, in seconds.
        #[arg(long, default_value_t = 5)]
        seconds: u64,
    },
    /// Sign presentation tokens like a real one, each with its own jti (keys from `keys.dir`).
    Mint {
        /// A presentation token to copy the claims of (from `eidgw sim present --json`).
        #[arg(long)]
        template: String,
        /// How many tokens to sign.
        #[arg(long)]
        count: usize,
        /// Where to write the tokens, one per line.
        #[arg(long)]
        out: PathBuf,
    },
    /// Load `POST /v1/verify` of a running gateway with minted tokens.
    VerifyLoad {
        /// The gateway's base URL.
        #[arg(long, default_value = "http://127.0.0.1:8080", env = "EIDGW_GATEWAY")]
        gateway: String,
        /// The relying party (client_id) to verify as.
        #[arg(long)]
        rp: String,
        /// Its client secret.
        #[arg(long)]
        secret: String,
        /// A file of tokens, one per line (from `eidgw bench mint`).
        #[arg(long)]
        tokens: PathBuf,
        /// Concurrent connections.
        #[arg(long, default_value_t = 32)]
        connections: usize,
        /// How long to measure, in seconds.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Requests per second; maximum throughput when omitted.
        #[arg(long)]
        rate: Option<f64>,
    },
    /// Load password login (challenge + login) of a running gateway with a `sim` wallet.
    LoginLoad {
        /// The gateway's base URL.
        #[arg(long, default_value = "http://127.0.0.1:8080", env = "EIDGW_GATEWAY")]
        gateway: String,
        /// The `sim` wallet directory of the citizen to log in as.
        #[arg(long)]
        wallet: PathBuf,
        /// Concurrent connections.
        #[arg(long, default_value_t = 8)]
        connections: usize,
        /// How long to measure, in seconds.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// Median answer times of a running dev gateway for what an enumeration probe compares:
    /// registration starts (registry match, unknown id, wrong field, existing account) and
    /// refused logins (unknown account, wrong password, locked account).
    Enumeration {
        /// The gateway's base URL.
        #[arg(long, default_value = "http://127.0.0.1:8080", env = "EIDGW_GATEWAY")]
        gateway: String,
        /// The gateway's people file (the dev seed writes data/people.jsonl).
        #[arg(long, default_value = "data/people.jsonl")]
        people: PathBuf,
        /// Requests per case.
        #[arg(long, default_value_t = 50)]
        tries: usize,
    },
    /// Random registry lookups against an imported population: p50/p99 latency.
    Registry {
        /// The people file that was imported (to know which ids exist).
        #[arg(long)]
        people: PathBuf,
        /// How many lookups to time.
        #[arg(long, default_value_t = 100_000)]
        lookups: usize,
        #[command(flatten)]
        store: StoreArgs,
    },
}

fn percentile(sorted: &[u128], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)] as f64 / 1000.0
}

impl BenchCommand {
    /// How long a fixed-length measurement runs.
    fn seconds(&self) -> Option<u64> {
        match self {
            BenchCommand::Jwt { seconds, .. }
            | BenchCommand::Chip { seconds }
            | BenchCommand::Argon2 { seconds, .. }
            | BenchCommand::VerifyLoad { seconds, .. }
            | BenchCommand::LoginLoad { seconds, .. } => Some(*seconds),
            _ => None,
        }
    }
}

pub fn run(mut settings: Settings, json: bool, command: BenchCommand) -> anyhow::Result<()> {
    use super::bench_load as bl;
    let _ticker = command
        .seconds()
        .map(|s| super::progress::timed(s, "measuring"));
    match command {
        BenchCommand::Biometrics {
            genuine,
            impostor,
            out,
        } => {
            use crate::biometrics::calibration::*;
            let b = &settings.biometrics;
            let noise = NoiseModel {
                enrolment: b.enrolment_noise,
                capture: b.capture_noise,
            };
            let g = genuine_scores(genuine, 1, noise);
            let i = impostor_scores(impostor, 2, noise);
            let rates = measure(&g, &i, b.face_threshold);
            plot_svg(&out, &g, &i, b.face_threshold).map_err(anyhow::Error::msg)?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({
                        "threshold": rates.threshold,
                        "fmr": rates.fmr(),
                        "false_matches": rates.false_matches,
                        "impostor_pairs": rates.impostor_pairs,
                        "fnmr": rates.fnmr(),
                        "false_non_matches": rates.false_non_matches,
                        "genuine_pairs": rates.genuine_pairs,
                        "picture": out.display().to_string(),
                    })
                );
                return Ok(());
            }
            println!(
                "threshold {:.2}: FMR {:.2e} ({} of {} impostor pairs), FNMR {:.2e} ({} of {} genuine pairs); picture: {}",
                rates.threshold,
                rates.fmr(),
                rates.false_matches,
                rates.impostor_pairs,
                rates.fnmr(),
                rates.false_non_matches,
                rates.genuine_pairs,
                out.display()
            );
            Ok(())
        }
        BenchCommand::Chip { seconds } => {
            println!("{}", serde_json::to_string(&chip_rate(seconds)?)?);
            Ok(())
        }
        BenchCommand::Jwt { threads, seconds } => {
            println!(
                "{}",
                serde_json::json!({ "bare_jwt_per_second": bl::bare_jwt_rate(threads, seconds)?, "threads": threads })
            );
            Ok(())
        }
        BenchCommand::Argon2 { threads, seconds } => {
            let s = &settings.security;
            let policy = crate::accounts::hashing::Argon2Policy {
                memory_kib: s.argon2_memory_kib,
                iterations: s.argon2_iterations,
                parallelism: s.argon2_parallelism,
            };
            println!(
                "{}",
                serde_json::json!({ "bare_argon2_verify_per_second": bl::bare_argon2_rate(policy, threads, seconds)?, "threads": threads })
            );
            Ok(())
        }
        BenchCommand::Mint {
            template,
            count,
            out,
        } => {
            let tokens = bl::mint(&settings.keys.dir, &template, count)?;
            std::fs::write(&out, tokens.join("\n") + "\n")?;
            let answer =
                serde_json::json!({ "tokens": tokens.len(), "out": out.display().to_string() });
            super::client::output(json, &answer, || {
                format!("wrote {} tokens to {}", tokens.len(), out.display())
            });
            Ok(())
        }
        BenchCommand::VerifyLoad {
            gateway,
            rp,
            secret,
            tokens,
            connections,
            seconds,
            rate,
        } => {
            let tokens: Arc<Vec<String>> = Arc::new(
                std::fs::read_to_string(&tokens)?
                    .lines()
                    .map(str::to_owned)
                    .collect(),
            );
            let url = format!("{}/v1/verify", gateway.trim_end_matches('/'));
            let work: bl::Work = Arc::new(move |client: reqwest::Client, i: usize| {
                let (url, rp, secret, tokens) =
                    (url.clone(), rp.clone(), secret.clone(), tokens.clone());
                Box::pin(async move {
                    let Some(token) = tokens.get(i) else {
                        return false;
                    };
                    match client
                        .post(&url)
                        .basic_auth(&rp, Some(&secret))
                        .json(&serde_json::json!({ "token": token }))
                        .send()
                        .await
                    {
                        Ok(r) => r
                            .json::<serde_json::Value>()
                            .await
                            .map(|v| v["valid"] == true)
                            .unwrap_or(false),
                        Err(_) => false,
                    }
                })
            });
            let summary = super::runtime()?.block_on(bl::load(
                work,
                connections,
                std::time::Duration::from_secs(seconds),
                rate,
            ));
            println!("{}", summary.json());
            Ok(())
        }
        BenchCommand::LoginLoad {
            gateway,
            wallet,
            connections,
            seconds,
        } => {
            use base64::Engine;
            use ed25519_dalek::Signer;
            let w = super::sim::load(&wallet)?;
            let key = Arc::new(super::sim::device(&w)?);
            let (id, password) = (w.personal_id.clone(), w.password.clone());
            let base = gateway.trim_end_matches('/').to_owned();
            let work: bl::Work = Arc::new(move |client: reqwest::Client, _| {
                let (base, id, password, key) =
                    (base.clone(), id.clone(), password.clone(), key.clone());
                Box::pin(async move {
                    let Ok(r) = client
                        .post(format!("{base}/v1/citizen/login/challenge"))
                        .json(&serde_json::json!({ "personal_id": id }))
                        .send()
                        .await
                    else {
                        return false;
                    };
                    let Ok(ch) = r.json::<serde_json::Value>().await else {
                        return false;
                    };
                    let sig = key.sign(&crate::identity::session::login_message(
                        ch["nonce"].as_str().unwrap_or_default(),
                    ));
                    let body = serde_json::json!({ "personal_id": id, "password": password, "challenge_id": ch["challenge_id"],
                        "device_signature": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sig.to_bytes()) });
                    matches!(client.post(format!("{base}/v1/citizen/login")).json(&body).send().await, Ok(r) if r.status().as_u16() == 201)
                })
            });
            let summary = super::runtime()?.block_on(bl::load(
                work,
                connections,
                std::time::Duration::from_secs(seconds),
                None,
            ));
            println!("{}", summary.json());
            Ok(())
        }
        BenchCommand::Enumeration {
            gateway,
            people,
            tries,
        } => {
            let answer = super::runtime()?
                .block_on(super::bench_enumeration::run(&gateway, &people, tries))?;
            println!("{}", serde_json::to_string_pretty(&answer)?);
            Ok(())
        }
        BenchCommand::Registry {
            people,
            lookups,
            store,
        } => {
            store.apply(&mut settings);
            let file = std::io::BufReader::new(std::fs::File::open(&people)?);
            // Read only the id of each line; parsing the whole record (vectors) is not needed.
            const FIELD: &str = "\"personal_id\":\"";
            let ids: Vec<PersonalId> = file
                .lines()
                .map_while(Result::ok)
                .filter_map(|l| {
                    let start = l.find(FIELD)? + FIELD.len();
                    PersonalId::parse(l.get(start..start + 12)?).ok()
                })
                .collect();
            anyhow::ensure!(
                !ids.is_empty(),
                "no personal ids found in {}",
                people.display()
            );
            let mut rng = ChaCha12Rng::seed_from_u64(99);
            let sample: Vec<PersonalId> = (0..lookups)
                .filter_map(|_| ids.choose(&mut rng).cloned())
                .collect();
            super::runtime()?.block_on(async move {
                let db = crate::store::open(&settings.store).await?;
                let registry = Registry::new(db);
                let mut times = Vec::with_capacity(sample.len());
                let started = Instant::now();
                for id in &sample {
                    let t = Instant::now();
                    let found = registry.person(id).await?;
                    times.push(t.elapsed().as_nanos());
                    anyhow::ensure!(found.is_some(), "{id} is in the file but not in the registry");
                }
                let total = started.elapsed();
                times.sort_unstable();
                if json {
                    println!(
                        "{}",
                        serde_json::json!({
                            "lookups": sample.len(),
                            "people": ids.len(),
                            "p50_us": percentile(&times, 0.50),
                            "p99_us": percentile(&times, 0.99),
                            "max_us": percentile(&times, 1.0),
                            "lookups_per_second": sample.len() as f64 / total.as_secs_f64(),
                        })
                    );
                    return Ok(());
                }
                println!(
                    "registry lookups: {} of {} people, p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs, {:.0} lookups/s",
                    sample.len(),
                    ids.len(),
                    percentile(&times, 0.50),
                    percentile(&times, 0.99),
                    percentile(&times, 1.0),
                    sample.len() as f64 / total.as_secs_f64()
                );
                Ok(())
            })
        }
    }
}

/// One core verifying one genuine chip read over and over (a fresh read each time: the active
/// authentication signature differs per challenge).
fn chip_rate(seconds: u64) -> anyhow::Result<serde_json::Value> {
    use crate::chip::inspection;
    use base64::Engine;
    let dir = tempfile_dir()?;
    let keys = crate::keys::KeyDir::new(dir.join("keys"));
    let now = crate::clock::Clock::now(&crate::clock::SystemClock);
    keys.init(crate::keys::Origin::Dev, now)?;
    let truth = crate::population::generate(1, 7)
        .next()
        .ok_or_else(|| anyhow::anyhow!("no person generated"))?;
    let today = now.to_datetime().date_naive();
    let card = crate::chip::CardIssuer::new(keys.card_authority()).issue(
        &truth.person,
        &truth.face,
        today,
        None,
    )?;
    let trust = crate::chip::TrustStore::load(&keys.trust_store())?;
    let mut reads = Vec::with_capacity(1024);
    for i in 0..1024u32 {
        let mut challenge = [0u8; 32];
        challenge[..4].copy_from_slice(&i.to_le_bytes());
        let id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(challenge);
        reads.push(card.image.answer(&id)?);
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    let started = std::time::Instant::now();
    let mut n = 0usize;
    while std::time::Instant::now() < deadline {
        let parsed = inspection::parse(&reads[n % reads.len()])?;
        inspection::passive_offline(&parsed, &trust, today)?;
        inspection::active_signature(&parsed)?;
        n += 1;
    }
    let per_second = n as f64 / started.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(&dir);
    Ok(serde_json::json!({ "chip_verifications_per_second_per_core": per_second, "verified": n }))
}

fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "eidgw-bench-chip-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
