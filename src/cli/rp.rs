//! `eidgw rp …`: a relying party's side, for testing against a running gateway — and its
//! registration, through the operator API (`rp register`, see [`super::rp_admin`]).

use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::client::{GatewayClient, output};
use super::exit::NegativeAnswer;

#[derive(Debug, Args)]
pub struct RpArgs {
    /// The gateway's base URL.
    #[arg(
        long,
        global = true,
        default_value = "http://127.0.0.1:8080",
        env = "EIDGW_GATEWAY"
    )]
    pub gateway: String,
    /// Print one JSON document on stdout.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: RpCommand,
}

/// Who the relying party is and how it proves it.
#[derive(Debug, Args)]
pub struct RpAuth {
    /// The relying party's client_id.
    #[arg(long)]
    rp: String,
    /// The client secret (client_secret_basic).
    #[arg(
        long,
        env = "EIDGW_RP_SECRET",
        conflicts_with = "key",
        allow_hyphen_values = true
    )]
    secret: Option<String>,
    /// The client's Ed25519 private key, PKCS#8 PEM (private_key_jwt).
    #[arg(long)]
    key: Option<PathBuf>,
    /// The gateway's issuer URL, the audience of private_key_jwt assertions; default: the
    /// gateway URL.
    #[arg(long, env = "EIDGW_ISSUER")]
    issuer: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum RpCommand {
    #[command(flatten)]
    Admin(super::rp_admin::AdminCommand),
    /// Verify a presentation token (POST /v1/verify) and print the answer.
    Verify {
        #[command(flatten)]
        auth: RpAuth,
        /// The nonce the relying party gave the citizen (may start with `-`).
        #[arg(long, allow_hyphen_values = true)]
        nonce: Option<String>,
        /// The presentation token the citizen showed (from `eidgw sim present --json | jq -r .token`).
        token: String,
    },
    /// Stream an NDJSON file of match requests to POST /v1/match/batch and print each answer
    /// line as it arrives; with --json, a summary line at the end.
    MatchBatch {
        #[command(flatten)]
        auth: RpAuth,
        /// An NDJSON file of match requests, one per line (see examples/subscribers.ndjson).
        file: PathBuf,
    },
    /// Play an NFC reader with the chip image FILE on it: get a challenge, let the chip answer,
    /// submit the read (POST /v1/chip/verify) and print the answer.
    ChipVerify {
        #[command(flatten)]
        auth: RpAuth,
        /// Also capture a live face at the kiosk: the card holder's, from the people file.
        #[arg(long)]
        face: bool,
        /// Capture this person's face instead (an impostor holding someone else's card).
        #[arg(long)]
        face_of: Option<String>,
        /// The people file holding the faces (the dev seed writes data/people.jsonl).
        #[arg(long, default_value = "data/people.jsonl")]
        people: PathBuf,
        /// The kiosk's Ed25519 private key, PKCS#8 PEM; default
        /// `config/sandbox/<rp>-kiosk.ed25519.pem`.
        #[arg(long)]
        kiosk_key: Option<PathBuf>,
        /// The chip image on the reader (from `eidgw card issue` or a wallet's card.json).
        file: PathBuf,
    },
}

/// A fresh RFC 7523 client assertion for `client_id`, signed with the PEM key.
fn assertion(client_id: &str, audience: &str, pem: &str) -> anyhow::Result<String> {
    Ok(crate::tokens::client_assertion::client_assertion(
        client_id, audience, pem,
    )?)
}

fn signing_key(pem: &str) -> anyhow::Result<ed25519_dalek::SigningKey> {
    Ok(crate::tokens::client_assertion::signing_key(pem)?)
}

/// A request authenticated as the relying party (a new client assertion per request).
fn authenticated(
    gw: &GatewayClient,
    gateway: &str,
    auth: &RpAuth,
    path: &str,
) -> anyhow::Result<reqwest::RequestBuilder> {
    let req = gw.request(reqwest::Method::POST, path);
    Ok(match (&auth.secret, &auth.key) {
        (Some(s), _) => req.basic_auth(&auth.rp, Some(s)),
        (None, Some(path)) => {
            let issuer = auth
                .issuer
                .as_deref()
                .unwrap_or(gateway)
                .trim_end_matches('/');
            let pem = std::fs::read_to_string(path)?;
            req.header(
                "authorization",
                format!("private_key_jwt {}", assertion(&auth.rp, issuer, &pem)?),
            )
        }
        (None, None) => anyhow::bail!("give --secret (or EIDGW_RP_SECRET) or --key"),
    })
}

fn verify_text(answer: &Value) -> String {
    if answer["valid"] == true {
        format!(
            "VALID  level {}  auth_level {}  amr {}  sub {}\nclaims {}",
            answer["level"], answer["auth_level"], answer["amr"], answer["sub"], answer["claims"]
        )
    } else {
        format!(
            "INVALID  reason: {}",
            answer["reason"].as_str().unwrap_or("?")
        )
    }
}

fn chip_text(answer: &Value) -> String {
    let check = |c: &Value| match c["ok"].as_bool() {
        Some(true) => "ok".to_owned(),
        _ => c["reason"].as_str().unwrap_or("failed").to_owned(),
    };
    let checks = &answer["checks"];
    let mut line = format!(
        "passive {}  active {}",
        check(&checks["passive"]),
        check(&checks["active"])
    );
    if let Some(face) = checks.get("face") {
        line.push_str(&format!(
            "  face {} (score {})",
            if face["matched"] == true {
                "ok"
            } else {
                "face_mismatch"
            },
            face["score"]
        ));
    }
    if answer["authentic"] == true {
        format!(
            "AUTHENTIC  card {}\n{line}\nclaims {}",
            answer["card_status"].as_str().unwrap_or("?"),
            answer["claims"]
        )
    } else {
        format!(
            "NOT AUTHENTIC  reason: {}  card {}\n{line}",
            answer["reason"].as_str().unwrap_or("?"),
            answer["card_status"].as_str().unwrap_or("?")
        )
    }
}

pub fn run(args: RpArgs) -> anyhow::Result<()> {
    super::runtime()?.block_on(async move {
        let gw = GatewayClient::new(&args.gateway)?;
        match args.command {
            RpCommand::Admin(command) => {
                super::rp_admin::run(&gw, args.json, command).await?;
            }
            RpCommand::Verify { auth, nonce, token } => {
                let mut body = json!({ "token": token });
                if let Some(n) = nonce {
                    body["nonce"] = json!(n);
                }
                let req = authenticated(&gw, &args.gateway, &auth, "/v1/verify")?;
                let answer = gw.send(req.json(&body)).await?;
                output(args.json, &answer, || verify_text(&answer));
                if answer["valid"] != true {
                    return Err(NegativeAnswer(format!(
                        "the token is not valid: {}",
                        answer["reason"].as_str().unwrap_or("?")
                    ))
                    .into());
                }
            }
            RpCommand::MatchBatch { auth, file } => {
                let req = authenticated(&gw, &args.gateway, &auth, "/v1/match/batch")?;
                let summary = match_batch(&gw, req, &file).await?;
                if args.json {
                    println!("{}", json!({ "summary": summary }));
                } else {
                    eprintln!(
                        "{} lines: {} answered, {} refused, {} with every field true",
                        summary["lines"],
                        summary["answered"],
                        summary["refused"],
                        summary["all_true"]
                    );
                }
                if summary["refused"].as_u64().unwrap_or(0) > 0 {
                    return Err(NegativeAnswer(format!(
                        "{} of {} lines were refused",
                        summary["refused"], summary["lines"]
                    ))
                    .into());
                }
            }
            RpCommand::ChipVerify {
                auth,
                face,
                face_of,
                people,
                kiosk_key,
                file,
            } => {
                let card = super::card::read_image(&file)?;
                let post = |path: &str, body: Value| {
                    authenticated(&gw, &args.gateway, &auth, path).map(|r| r.json(&body))
                };
                let challenge = gw.send(post("/v1/chip/challenge", json!({}))?).await?;
                let read = card.answer(challenge["challenge_id"].as_str().unwrap_or_default())?;
                let mut body = json!({ "chip_read": read });
                let person = match face_of {
                    Some(id) => Some(id),
                    None if face => Some(card.stated_personal_id()?),
                    None => None,
                };
                if let Some(id) = person {
                    let truth = super::sim::find_person(&people, &id)?;
                    let key_file = kiosk_key.unwrap_or_else(|| {
                        PathBuf::from(format!("config/sandbox/{}-kiosk.ed25519.pem", auth.rp))
                    });
                    let kiosk =
                        signing_key(&std::fs::read_to_string(&key_file).map_err(|e| {
                            anyhow::anyhow!("kiosk key {}: {e}", key_file.display())
                        })?)?;
                    let liveness = gw
                        .send(post("/v1/chip/liveness-challenge", json!({}))?)
                        .await?;
                    body["face_capture"] = super::sim::face_capture(&truth, &liveness, &kiosk)?;
                }
                let answer = gw.send(post("/v1/chip/verify", body)?).await?;
                output(args.json, &answer, || chip_text(&answer));
                if answer["authentic"] != true {
                    return Err(NegativeAnswer(format!(
                        "the card is not authentic: {}",
                        answer["reason"].as_str().unwrap_or("?")
                    ))
                    .into());
                }
            }
        }
        Ok(())
    })
}

/// The lines of `file`, for the progress bar's length (only worth reading for a terminal).
fn line_count(file: &std::path::Path) -> Option<u64> {
    use std::io::{IsTerminal, Read};
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let mut f = std::fs::File::open(file).ok()?;
    let (mut buf, mut n) = (vec![0u8; 1 << 16], 0u64);
    loop {
        match f.read(&mut buf) {
            Ok(0) => return Some(n),
            Ok(k) => n += buf[..k].iter().filter(|b| **b == b'\n').count() as u64,
            Err(_) => return None,
        }
    }
}

/// Uploads the file as a stream and prints the answers as they come; returns a summary.
async fn match_batch(
    gw: &GatewayClient,
    req: reqwest::RequestBuilder,
    file: &std::path::Path,
) -> anyhow::Result<Value> {
    use std::io::Write;
    use tokio::io::AsyncReadExt;
    let f = tokio::fs::File::open(file)
        .await
        .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let upload = futures_util::stream::unfold(f, |mut f| async move {
        let mut buf = vec![0u8; 64 * 1024];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(buf), f))
            }
            Err(e) => Some((Err(e), f)),
        }
    });
    let mut res = req
        .header("content-type", "application/x-ndjson")
        .body(reqwest::Body::wrap_stream(upload))
        .send()
        .await
        .map_err(|source| gw.unreachable(source))?;
    if !res.status().is_success() {
        return gw.send_response(res).await;
    }
    let (mut lines, mut answered, mut refused, mut all_true) = (0u64, 0u64, 0u64, 0u64);
    let progress = super::progress::bar(line_count(file), "lines");
    let mut pending: Vec<u8> = Vec::new();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    while let Some(chunk) = res.chunk().await? {
        pending.extend_from_slice(&chunk);
        // Whole lines go out as one write; the unfinished tail waits for the next chunk.
        let Some(end) = pending.iter().rposition(|b| *b == b'\n') else {
            continue;
        };
        out.write_all(&pending[..=end])?;
        for line in pending[..end].split(|b| *b == b'\n') {
            lines += 1;
            // Counted from the bytes (the gateway's own compact JSON): parsing a million
            // answers would cost more than the gateway spends on them.
            let has = |needle: &[u8]| line.windows(needle.len()).any(|w| w == needle);
            if has(b"\"error\":") {
                refused += 1;
            } else {
                answered += 1;
                if !has(b":false") {
                    all_true += 1;
                }
            }
        }
        pending.drain(..=end);
        progress.set_position(lines);
    }
    progress.finish_and_clear();
    out.flush()?;
    Ok(json!({ "lines": lines, "answered": answered, "refused": refused, "all_true": all_true }))
}
