//! `eidgw card issue`: has a running gateway issue a chip ID card through the operator API and
//! writes the chip image (which holds the chip's private key: keep it like a physical card).

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use serde_json::json;

use super::client::GatewayClient;
use crate::chip::ChipImage;

/// The sandbox enrolment officer of `config/dev.toml` (secret published in README.md).
pub const DEV_OPERATOR_ID: &str = "dev-officer";
pub const DEV_OPERATOR_SECRET: &str = "2ihdeO14OmlXIOhtvY8zBvhrVbba_mlpbuK-5NEbenw";

#[derive(Debug, Subcommand)]
pub enum CardCommand {
    /// Issue a card for a registry person, optionally with a defect for relying-party testing.
    Issue {
        /// The 12-digit personal id of the registry person the card is for.
        #[arg(long)]
        personal_id: String,
        /// cloned, tampered-dg13, tampered-dg2, forged-ds, expired-ds, no-dg15, revoked-card,
        /// expired-card
        #[arg(long)]
        defect: Option<String>,
        /// Where to write the chip image (owner-only: it holds the chip's private key).
        #[arg(long)]
        out: PathBuf,
        /// The gateway's base URL.
        #[arg(long, default_value = "http://127.0.0.1:8080", env = "EIDGW_GATEWAY")]
        gateway: String,
        #[command(flatten)]
        operator: OperatorCredentials,
    },
}

/// The enrolment officer on whose authority the gateway issues the card.
#[derive(Debug, Args)]
pub struct OperatorCredentials {
    /// The operator account the command acts as (dev: the sandbox officer of config/dev.toml).
    #[arg(long, env = "EIDGW_OPERATOR_ID", default_value = DEV_OPERATOR_ID)]
    pub operator: String,
    /// Its secret (dev: the sandbox officer's published one).
    #[arg(long, env = "EIDGW_OPERATOR_SECRET", default_value = DEV_OPERATOR_SECRET, hide_default_value = true)]
    pub operator_secret: String,
}

/// Reads a chip image file (owner-only, like every file holding a private key).
pub fn read_image(path: &Path) -> anyhow::Result<ChipImage> {
    let text = crate::keys::read_private(path)?;
    Ok(ChipImage::from_json(secrecy::ExposeSecret::expose_secret(
        &text,
    ))?)
}

/// Writes a chip image file, owner-only.
pub fn write_image(path: &Path, image: &serde_json::Value) -> anyhow::Result<()> {
    crate::keys::write_private(path, serde_json::to_string_pretty(image)?.as_bytes())?;
    Ok(())
}

/// Issues a card through the operator API and returns the chip image document.
pub async fn issue(
    gateway: &str,
    operator: &OperatorCredentials,
    personal_id: &str,
    defect: Option<&str>,
) -> anyhow::Result<serde_json::Value> {
    if let Some(d) = defect
        && crate::chip::Defect::parse(d).is_none()
    {
        anyhow::bail!("unknown defect {d}");
    }
    let client = GatewayClient::new(gateway)?;
    let req = client
        .request(reqwest::Method::POST, "/v1/operator/cards")
        .basic_auth(&operator.operator, Some(&operator.operator_secret))
        .json(&json!({ "personal_id": personal_id, "defect": defect }));
    client.send(req).await
}

pub fn run(json: bool, command: CardCommand) -> anyhow::Result<()> {
    match command {
        CardCommand::Issue {
            personal_id,
            defect,
            out,
            gateway,
            operator,
        } => {
            let image = super::runtime()?.block_on(issue(
                &gateway,
                &operator,
                &personal_id,
                defect.as_deref(),
            ))?;
            write_image(&out, &image)?;
            let card_number = image["card_number"].as_str().unwrap_or("?");
            // The image itself holds the chip's private key: the answer names the file only.
            let answer = json!({ "card_number": card_number, "defect": defect, "out": out.display().to_string() });
            super::client::output(json, &answer, || {
                format!(
                    "card {card_number} written to {} (it holds the chip's private key)",
                    out.display()
                )
            });
            Ok(())
        }
    }
}
