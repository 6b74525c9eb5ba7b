//! `eidgw keys init|rotate|show|add-ds`.

use std::time::Duration;

use clap::Subcommand;
use serde_json::json;

use super::client::output;

use crate::clock::{Clock, SystemClock};
use crate::config::Settings;
use crate::keys::{KeyDir, Origin};
use crate::tokens::KeyringManifest;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a complete key set in an empty key directory (production keys).
    Init,
    /// Rotate the signing key: next → active → retired, and create a new next key.
    Rotate {
        /// Rotate even if the next key was published less than the JWKS cache lifetime ago.
        #[arg(long)]
        force: bool,
    },
    /// Show the keyring (public information only).
    Show,
    /// Rotate the card authority's Document Signer: new cards are signed by a new DS, cards of
    /// the previous one stay valid while its certificate is.
    AddDs,
}

pub fn run(settings: Settings, json: bool, command: KeysCommand) -> anyhow::Result<()> {
    let dir = KeyDir::new(&settings.keys.dir);
    let now = SystemClock.now();
    match command {
        KeysCommand::Init => {
            dir.init(Origin::Operator, now)?;
            if !json {
                println!("created a key set in {}", dir.root().display());
            }
            show(&dir, json)
        }
        KeysCommand::Rotate { force } => {
            let r = KeyringManifest::rotate(
                &dir.signing(),
                now,
                Duration::from_secs(settings.keys.jwks_max_age_secs),
                Duration::from_secs(
                    settings.tokens.max_lifetime_secs + settings.tokens.leeway_secs,
                ),
                force,
            )?;
            let answer = json!({
                "generation": r.generation,
                "activated": r.activated,
                "retired": r.retired,
                "next": r.new_next,
                "rs256_activated": r.rs256_activated,
                "removed": r.removed,
                "reload_within_secs": settings.keys.reload_interval_secs,
            });
            output(json, &answer, || {
                let mut text = format!(
                    "keyring generation {}: {} now signs; {} retired; {} is next",
                    r.generation, r.activated, r.retired, r.new_next
                );
                if let Some(kid) = &r.rs256_activated {
                    text.push_str(&format!(
                        "\nRS256 (ID tokens of RS256 clients): {kid} now signs"
                    ));
                }
                for kid in &r.removed {
                    text.push_str(&format!("\nremoved expired retired key {kid}"));
                }
                text.push_str(&format!(
                    "\nrunning gateways pick this up within {} s",
                    settings.keys.reload_interval_secs
                ));
                text
            });
            Ok(())
        }
        KeysCommand::Show => show(&dir, json),
        KeysCommand::AddDs => {
            let n = crate::chip::authority::CardAuthority::add_next_document_signer(
                &dir.card_authority(),
                now,
            )?;
            output(
                json,
                &json!({ "document_signer": format!("DS-{n:04}") }),
                || format!("Document Signer DS-{n:04} created; new cards are signed by it"),
            );
            Ok(())
        }
    }
}

/// The keyring's public facts: origin, generation, and each key's algorithm, state and kid.
fn show(dir: &KeyDir, json: bool) -> anyhow::Result<()> {
    let m = KeyringManifest::load(&dir.signing())?;
    let origin = format!("{:?}", dir.origin()?).to_lowercase();
    let keys: Vec<_> = m
        .keys
        .iter()
        .map(|k| {
            json!({
                "alg": format!("{:?}", k.alg),
                "state": format!("{:?}", k.state).to_lowercase(),
                "kid": k.kid,
                "created_at": k.created_at,
            })
        })
        .collect();
    let answer = json!({ "origin": origin, "generation": m.generation, "keys": keys });
    output(json, &answer, || {
        let mut text = format!("origin: {origin}\ngeneration: {}", m.generation);
        for k in &m.keys {
            text.push_str(&format!(
                "\n{:<6} {:<8} {}  created {}",
                format!("{:?}", k.alg),
                format!("{:?}", k.state).to_lowercase(),
                k.kid,
                k.created_at
            ));
        }
        text
    });
    Ok(())
}
