//! `eidgw rp …`: a relying party's side, for testing against a running gateway.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::client::{GatewayClient, output};

#[derive(Debug, Args)]
pub struct RpArgs {
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
    /// Verify a presentation token (POST /v1/verify) and print the answer.
    Verify {
        #[command(flatten)]
        auth: RpAuth,
        /// The nonce the relying party gave the citizen (may start with `-`).
        #[arg(long, allow_hyphen_values = true)]
        nonce: Option<String>,
        token: String,
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
        #[arg(long, default_value = "data/people.jsonl")]
        people: PathBuf,
        /// The kiosk's Ed25519 private key, PKCS#8 PEM; default
        /// `config/sandbox/<rp>-kiosk.ed25519.pem`.
        #[arg(long)]
        kiosk_key: Option<PathBuf>,
        file: PathBuf,
    },
}

/// A fresh RFC 7523 client assertion for `client_id`, signed with the PEM key.
fn assertion(client_id: &str, audience: &str, pem: &str) -> anyhow::Result<String> {
    use ed25519_dalek::pkcs8::EncodePrivateKey;
    let key = signing_key(pem)?;
    let der = key.to_pkcs8_der().map_err(|e| anyhow::anyhow!("{e}"))?;
    let now = chrono::Utc::now().timestamp();
    let claims = json!({ "iss": client_id, "sub": client_id, "aud": audience, "iat": now, "exp": now + 60, "jti": crate::challenges::random_token()? });
    Ok(jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA),
        &claims,
        &jsonwebtoken::EncodingKey::from_ed_der(der.as_bytes()),
    )?)
}

fn signing_key(pem: &str) -> anyhow::Result<ed25519_dalek::SigningKey> {
    use ed25519_dalek::pkcs8::DecodePrivateKey;
    ed25519_dalek::SigningKey::from_pkcs8_pem(pem)
        .map_err(|e| anyhow::anyhow!("not an Ed25519 PKCS#8 key: {e}"))
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
            RpCommand::Verify { auth, nonce, token } => {
                let mut body = json!({ "token": token });
                if let Some(n) = nonce {
                    body["nonce"] = json!(n);
                }
                let req = authenticated(&gw, &args.gateway, &auth, "/v1/verify")?;
                let answer = gw.send(req.json(&body)).await?;
                output(args.json, &answer, || verify_text(&answer));
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
            }
        }
        Ok(())
    })
}
