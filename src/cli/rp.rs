//! `eidgw rp …`: a relying party's side, for testing against a running gateway.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::json;

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

#[derive(Debug, Subcommand)]
pub enum RpCommand {
    /// Verify a presentation token (POST /v1/verify) and print the answer.
    Verify {
        /// The relying party's client_id.
        #[arg(long)]
        rp: String,
        /// The client secret (client_secret_basic).
        #[arg(long, env = "EIDGW_RP_SECRET", conflicts_with = "key")]
        secret: Option<String>,
        /// The client's Ed25519 private key, PKCS#8 PEM (private_key_jwt).
        #[arg(long)]
        key: Option<PathBuf>,
        /// The nonce the relying party gave the citizen.
        #[arg(long)]
        nonce: Option<String>,
        token: String,
    },
}

/// A fresh RFC 7523 client assertion for `client_id`, signed with the PEM key.
fn assertion(client_id: &str, audience: &str, pem: &str) -> anyhow::Result<String> {
    use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
    let key = ed25519_dalek::SigningKey::from_pkcs8_pem(pem)
        .map_err(|e| anyhow::anyhow!("not an Ed25519 PKCS#8 key: {e}"))?;
    let der = key.to_pkcs8_der().map_err(|e| anyhow::anyhow!("{e}"))?;
    let now = chrono::Utc::now().timestamp();
    let claims = json!({ "iss": client_id, "sub": client_id, "aud": audience, "iat": now, "exp": now + 60, "jti": crate::challenges::random_token()? });
    Ok(jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA),
        &claims,
        &jsonwebtoken::EncodingKey::from_ed_der(der.as_bytes()),
    )?)
}

pub fn run(args: RpArgs) -> anyhow::Result<()> {
    super::runtime()?.block_on(async move {
        let gw = GatewayClient::new(&args.gateway)?;
        match args.command {
            RpCommand::Verify {
                rp,
                secret,
                key,
                nonce,
                token,
            } => {
                let mut body = json!({ "token": token });
                if let Some(n) = nonce {
                    body["nonce"] = json!(n);
                }
                let mut req = gw.request(reqwest::Method::POST, "/v1/verify").json(&body);
                req = match (secret, key) {
                    (Some(s), _) => req.basic_auth(&rp, Some(s)),
                    (None, Some(path)) => {
                        let discovery_issuer = args.gateway.trim_end_matches('/').to_owned();
                        let pem = std::fs::read_to_string(&path)?;
                        req.header(
                            "authorization",
                            format!(
                                "private_key_jwt {}",
                                assertion(&rp, &discovery_issuer, &pem)?
                            ),
                        )
                    }
                    (None, None) => anyhow::bail!("give --secret (or EIDGW_RP_SECRET) or --key"),
                };
                let answer = gw.send(req).await?;
                output(args.json, &answer, || {
                    if answer["valid"] == true {
                        format!(
                            "VALID  level {}  auth_level {}  amr {}  sub {}\nclaims {}",
                            answer["level"],
                            answer["auth_level"],
                            answer["amr"],
                            answer["sub"],
                            answer["claims"]
                        )
                    } else {
                        format!(
                            "INVALID  reason: {}",
                            answer["reason"].as_str().unwrap_or("?")
                        )
                    }
                });
                Ok(())
            }
        }
    })
}
