//! `eidgw keys init|rotate|show|add-ds`.

use std::time::Duration;

use clap::Subcommand;

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

pub fn run(settings: Settings, command: KeysCommand) -> anyhow::Result<()> {
    let dir = KeyDir::new(&settings.keys.dir);
    let now = SystemClock.now();
    match command {
        KeysCommand::Init => {
            dir.init(Origin::Operator, now)?;
            println!("created a key set in {}", dir.root().display());
            show(&dir)
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
            println!(
                "keyring generation {}: {} now signs; {} retired; {} is next",
                r.generation, r.activated, r.retired, r.new_next
            );
            if let Some(kid) = &r.rs256_activated {
                println!("RS256 (ID tokens of RS256 clients): {kid} now signs");
            }
            for kid in r.removed {
                println!("removed expired retired key {kid}");
            }
            println!(
                "running gateways pick this up within {} s",
                settings.keys.reload_interval_secs
            );
            Ok(())
        }
        KeysCommand::Show => show(&dir),
        KeysCommand::AddDs => {
            let n = crate::chip::authority::CardAuthority::add_next_document_signer(
                &dir.card_authority(),
                now,
            )?;
            println!("Document Signer DS-{n:04} created; new cards are signed by it");
            Ok(())
        }
    }
}

fn show(dir: &KeyDir) -> anyhow::Result<()> {
    let m = KeyringManifest::load(&dir.signing())?;
    println!("origin: {:?}", dir.origin()?);
    println!("generation: {}", m.generation);
    for k in m.keys {
        println!(
            "{:<6} {:<8} {}  created {}",
            format!("{:?}", k.alg),
            format!("{:?}", k.state).to_lowercase(),
            k.kid,
            k.created_at
        );
    }
    Ok(())
}
