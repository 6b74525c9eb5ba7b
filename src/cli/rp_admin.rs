//! `eidgw rp register | list | show | rotate-secret | disable | enable | initial-access-token`:
//! relying parties managed through a running gateway's operator API, so it works on either
//! store and while the gateway runs. A generated secret is printed once; the gateway keeps only
//! its SHA-256.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::card::OperatorCredentials;
use super::client::{GatewayClient, output};

#[derive(Debug, Args)]
pub struct RegisterArgs {
    /// The relying party's name, as citizens see it on the consent page.
    #[arg(long)]
    pub name: String,
    /// The client id (default: `rp-` and 16 random hex digits).
    #[arg(long)]
    pub client_id: Option<String>,
    /// A redirect URI (exact match; repeat the flag for several).
    #[arg(long = "redirect-uri")]
    pub redirect_uris: Vec<String>,
    /// Where RP-initiated logout may return the browser (repeatable).
    #[arg(long = "post-logout-redirect-uri")]
    pub post_logout_redirect_uris: Vec<String>,
    /// Comma-separated: verify, chip_verify, match, match_batch, ciba.
    #[arg(long, value_delimiter = ',')]
    pub permissions: Vec<String>,
    /// The lowest identity level it accepts (1 or 2).
    #[arg(long, default_value_t = 1)]
    pub min_level: u8,
    /// The lowest authentication level it accepts (1 to 4).
    #[arg(long, default_value_t = 1)]
    pub min_auth_level: u8,
    /// Comma-separated claims it may receive, e.g. full_name,birth_date,phone.
    #[arg(long, value_delimiter = ',')]
    pub allowed_claims: Vec<String>,
    /// The pairwise-subject sector (default: the first redirect URI's host).
    #[arg(long)]
    pub sector: Option<String>,
    /// Its public key for private_key_jwt: a PEM file (Ed25519 or P-256, public or private key;
    /// only the public part is sent). Without it the client gets a generated secret.
    #[arg(long)]
    pub public_key: Option<PathBuf>,
    /// ID token signing: EdDSA (default) or RS256, for stacks without EdDSA.
    #[arg(long, default_value = "EdDSA")]
    pub id_token_alg: String,
    /// Requests per minute it may make.
    #[arg(long)]
    pub rate_quota: Option<u32>,
    /// A sandbox client (dev mode only; refused in production).
    #[arg(long)]
    pub sandbox: bool,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Register a relying party; prints its settings and, once, its generated secret.
    Register {
        #[command(flatten)]
        args: Box<RegisterArgs>,
        #[command(flatten)]
        operator: OperatorCredentials,
    },
    /// Every registration (the file's, the operator's, dynamic ones).
    List {
        #[command(flatten)]
        operator: OperatorCredentials,
    },
    /// One registration.
    Show {
        /// The client_id of the relying party.
        client_id: String,
        #[command(flatten)]
        operator: OperatorCredentials,
    },
    /// A new secret; the old one stops working at once. Printed once.
    RotateSecret {
        /// The client_id of the relying party.
        client_id: String,
        #[command(flatten)]
        operator: OperatorCredentials,
    },
    /// Disable a client: it cannot authenticate anywhere until enabled again.
    Disable {
        /// The client_id of the relying party.
        client_id: String,
        #[command(flatten)]
        operator: OperatorCredentials,
    },
    /// Enable a disabled client again.
    Enable {
        /// The client_id of the relying party.
        client_id: String,
        #[command(flatten)]
        operator: OperatorCredentials,
    },
    /// An initial access token for one dynamic registration at /oauth2/register (production).
    InitialAccessToken {
        /// Seconds it stays usable.
        #[arg(long, default_value_t = 86_400)]
        expires_in: u64,
        #[command(flatten)]
        operator: OperatorCredentials,
    },
}

/// The public key of a PEM file, as the gateway takes it: base64url for Ed25519, a JWK for P-256.
fn public_key_of(path: &Path) -> anyhow::Result<Value> {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey};
    let pem =
        std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    if let Ok(k) = ed25519_dalek::VerifyingKey::from_public_key_pem(&pem) {
        return Ok(json!(URL_SAFE_NO_PAD.encode(k.as_bytes())));
    }
    if let Ok(k) = ed25519_dalek::SigningKey::from_pkcs8_pem(&pem) {
        return Ok(json!(URL_SAFE_NO_PAD.encode(k.verifying_key().as_bytes())));
    }
    let p256 = p256::PublicKey::from_public_key_pem(&pem)
        .or_else(|_| p256::SecretKey::from_pkcs8_pem(&pem).map(|k| k.public_key()))
        .map_err(|_| {
            anyhow::anyhow!(
                "{}: not an Ed25519 or P-256 key in PEM (SPKI or PKCS#8)",
                path.display()
            )
        })?;
    use p256::elliptic_curve::sec1::ToEncodedPoint;
    let point = p256.to_encoded_point(false);
    let (Some(x), Some(y)) = (point.x(), point.y()) else {
        anyhow::bail!("{}: the P-256 key has no coordinates", path.display());
    };
    Ok(
        json!({ "kty": "EC", "crv": "P-256", "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y) }),
    )
}

fn request_of(args: &RegisterArgs) -> anyhow::Result<Value> {
    let mut body = json!({
        "name": args.name,
        "redirect_uris": args.redirect_uris,
        "post_logout_redirect_uris": args.post_logout_redirect_uris,
        "permissions": args.permissions,
        "min_level": args.min_level,
        "min_auth_level": args.min_auth_level,
        "allowed_claims": args.allowed_claims,
        "id_token_signed_response_alg": args.id_token_alg,
        "sandbox": args.sandbox,
    });
    if let Some(id) = &args.client_id {
        body["client_id"] = json!(id);
    }
    if let Some(sector) = &args.sector {
        body["sector"] = json!(sector);
    }
    if let Some(q) = args.rate_quota {
        body["rate_quota_per_minute"] = json!(q);
    }
    if let Some(path) = &args.public_key {
        body["public_key"] = public_key_of(path)?;
    }
    Ok(body)
}

fn registration_text(r: &Value) -> String {
    let list = |v: &Value| {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default()
    };
    let mut lines = vec![
        format!("client_id      {}", r["client_id"].as_str().unwrap_or("?")),
        format!("name           {}", r["name"].as_str().unwrap_or("?")),
        format!(
            "authentication {}",
            r["authentication_method"].as_str().unwrap_or("?")
        ),
        format!("sector         {}", r["sector"].as_str().unwrap_or("?")),
        format!("redirect URIs  {}", list(&r["redirect_uris"])),
        format!("permissions    {}", list(&r["permissions"])),
        format!("claims         {}", list(&r["allowed_claims"])),
        format!(
            "levels         identity ≥ {}, authentication ≥ {}",
            r["min_level"], r["min_auth_level"]
        ),
        format!(
            "source         {}{}{}",
            r["source"].as_str().unwrap_or("?"),
            if r["sandbox"] == true {
                ", sandbox"
            } else {
                ""
            },
            if r["disabled"] == true {
                ", DISABLED"
            } else {
                ""
            }
        ),
    ];
    if let Some(secret) = r["client_secret"].as_str() {
        lines.push(String::new());
        lines.push(format!("client_secret  {secret}"));
        lines.push(
            "               shown this once: the gateway keeps only its SHA-256. Store it now."
                .into(),
        );
    }
    lines.join("\n")
}

pub async fn run(gw: &GatewayClient, json_out: bool, command: AdminCommand) -> anyhow::Result<()> {
    let call = |method: reqwest::Method, path: String, operator: &OperatorCredentials| {
        gw.request(method, &format!("/v1/operator{path}"))
            .basic_auth(&operator.operator, Some(&operator.operator_secret))
    };
    use reqwest::Method;
    match command {
        AdminCommand::Register { args, operator } => {
            let body = request_of(&args)?;
            let r = gw
                .send(call(Method::POST, "/relying-parties".into(), &operator).json(&body))
                .await?;
            output(json_out, &r, || registration_text(&r));
        }
        AdminCommand::List { operator } => {
            let all = gw
                .send(call(Method::GET, "/relying-parties".into(), &operator))
                .await?;
            output(json_out, &all, || {
                all.as_array()
                    .map(|list| {
                        list.iter()
                            .map(|r| {
                                format!(
                                    "{:<28} {:<20} {:<10} {}{}",
                                    r["client_id"].as_str().unwrap_or("?"),
                                    r["authentication_method"].as_str().unwrap_or("?"),
                                    r["source"].as_str().unwrap_or("?"),
                                    r["name"].as_str().unwrap_or("?"),
                                    if r["disabled"] == true {
                                        "  (disabled)"
                                    } else {
                                        ""
                                    }
                                )
                            })
                            .collect::<Vec<_>>()
                            .join("\n")
                    })
                    .unwrap_or_default()
            });
        }
        AdminCommand::Show {
            client_id,
            operator,
        } => {
            let r = gw
                .send(call(
                    Method::GET,
                    format!("/relying-parties/{client_id}"),
                    &operator,
                ))
                .await?;
            output(json_out, &r, || registration_text(&r));
        }
        AdminCommand::RotateSecret {
            client_id,
            operator,
        } => {
            let r = gw
                .send(call(
                    Method::POST,
                    format!("/relying-parties/{client_id}/rotate-secret"),
                    &operator,
                ))
                .await?;
            output(json_out, &r, || {
                format!(
                    "client_secret  {}\n               shown this once; the previous secret no longer works.",
                    r["client_secret"].as_str().unwrap_or("?")
                )
            });
        }
        AdminCommand::Disable {
            client_id,
            operator,
        } => {
            let r = gw
                .send(call(
                    Method::POST,
                    format!("/relying-parties/{client_id}/disable"),
                    &operator,
                ))
                .await?;
            output(json_out, &r, || format!("{client_id} disabled"));
        }
        AdminCommand::Enable {
            client_id,
            operator,
        } => {
            let r = gw
                .send(call(
                    Method::POST,
                    format!("/relying-parties/{client_id}/enable"),
                    &operator,
                ))
                .await?;
            output(json_out, &r, || format!("{client_id} enabled"));
        }
        AdminCommand::InitialAccessToken {
            expires_in,
            operator,
        } => {
            let r = gw
                .send(
                    call(Method::POST, "/initial-access-tokens".into(), &operator)
                        .json(&json!({ "expires_in": expires_in })),
                )
                .await?;
            output(json_out, &r, || {
                format!(
                    "initial access token  {}\n                      one registration at /oauth2/register (Authorization: Bearer …), within {} s",
                    r["initial_access_token"].as_str().unwrap_or("?"),
                    r["expires_in"]
                )
            });
        }
    }
    Ok(())
}
