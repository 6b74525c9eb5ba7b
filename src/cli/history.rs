//! `eidgw history verify`: checks a signed usage-history export (the phone's "download signed
//! history", `GET /v1/citizen/history/export`) against the gateway's published keys — offline
//! with a saved JWKS, or fetching discovery and the JWKS from a gateway.

use std::path::PathBuf;

use clap::Subcommand;

use super::client::{GatewayClient, output};
use super::exit::NegativeAnswer;
use crate::identity::history_export::{HistoryExport, verify};

#[derive(Debug, Subcommand)]
pub enum HistoryCommand {
    /// Check a signed history export: genuine (exit 0) or edited / not the gateway's (exit 3).
    Verify {
        /// The export file (`vneid-history-….jws`).
        file: PathBuf,
        /// Check offline against this saved JWKS (the gateway's `jwks_uri`), without a network.
        #[arg(long)]
        jwks: Option<PathBuf>,
        /// Without --jwks: fetch discovery and the JWKS from this gateway, and require its
        /// issuer.
        #[arg(long, env = "EIDGW_GATEWAY", default_value = "http://127.0.0.1:8080")]
        gateway: String,
        /// With --jwks: the issuer the export must name (any, when omitted).
        #[arg(long, requires = "jwks")]
        issuer: Option<String>,
    },
}

pub fn run(json: bool, command: HistoryCommand) -> anyhow::Result<()> {
    let HistoryCommand::Verify {
        file,
        jwks,
        gateway,
        issuer,
    } = command;
    let document =
        std::fs::read_to_string(&file).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let (keys, issuer) = match jwks {
        Some(path) => {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            let keys: jsonwebtoken::jwk::JwkSet = serde_json::from_str(&text)
                .map_err(|e| anyhow::anyhow!("{}: not a JWKS: {e}", path.display()))?;
            (keys, issuer)
        }
        None => super::runtime()?.block_on(published(&gateway))?,
    };
    match verify(&document, &keys, issuer.as_deref()) {
        Ok(export) => {
            report_genuine(json, &export);
            Ok(())
        }
        Err(why) => {
            let answer = serde_json::json!({ "genuine": false, "reason": why.to_string() });
            output(json, &answer, || format!("NOT GENUINE: {why}"));
            Err(NegativeAnswer(format!(
                "{} is not a genuine history export",
                file.display()
            ))
            .into())
        }
    }
}

/// The gateway's issuer and published keys.
async fn published(gateway: &str) -> anyhow::Result<(jsonwebtoken::jwk::JwkSet, Option<String>)> {
    let client = GatewayClient::new(gateway)?;
    let discovery = client
        .get("/.well-known/openid-configuration", None)
        .await?;
    let issuer = discovery["issuer"].as_str().map(str::to_owned);
    let jwks_uri = discovery["jwks_uri"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("{gateway}: discovery names no jwks_uri"))?;
    let path = jwks_uri
        .strip_prefix(issuer.as_deref().unwrap_or_default())
        .unwrap_or("/.well-known/jwks.json");
    let keys = serde_json::from_value(client.get(path, None).await?)?;
    Ok((keys, issuer))
}

fn report_genuine(json: bool, export: &HistoryExport) {
    let masked = crate::domain::PersonalId::parse(&export.sub)
        .map(|p| p.masked())
        .unwrap_or_default();
    let answer = serde_json::json!({
        "genuine": true,
        "issuer": export.iss,
        "personal_id": export.sub,
        "name": export.name,
        "signed_at": export.iat,
        "complete": export.complete,
        "entries": export.entries,
    });
    output(json, &answer, || {
        let mut lines = vec![format!(
            "GENUINE: the usage history of {} ({masked}), {} entries{}, signed by {} at {}",
            export.name,
            export.entries.len(),
            if export.complete {
                ""
            } else {
                " (the newest only)"
            },
            export.iss,
            crate::clock::Timestamp::from_secs(export.iat)
        )];
        for e in &export.entries {
            lines.push(format!(
                "{}  {:<28} {:<12} {}{}",
                crate::clock::Timestamp::from_secs(e.at),
                e.relying_party,
                e.action,
                e.claims.join(","),
                e.purpose
                    .as_deref()
                    .map(|p| format!("  ({p})"))
                    .unwrap_or_default()
            ));
        }
        lines.join("\n")
    });
}
