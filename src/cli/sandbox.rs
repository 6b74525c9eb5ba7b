//! `eidgw sandbox reset`: a dev data directory starts over.

use std::sync::Arc;

use clap::Subcommand;
use serde_json::json;

use super::StoreArgs;
use crate::audit::{AuditKind, AuditLog};
use crate::clock::SystemClock;
use crate::config::{Settings, StoreBackend};

#[derive(Debug, Subcommand)]
pub enum SandboxCommand {
    /// Remove every account, session, consent, card, usage history, SMS and rate counter of a dev
    /// data directory, keeping its keys, registry (people file), relying parties and audit log;
    /// the next `eidgw serve` prepares the personas again. Stop the gateway first.
    Reset {
        #[command(flatten)]
        store: StoreArgs,
    },
}

pub fn run(mut settings: Settings, json: bool, command: SandboxCommand) -> anyhow::Result<()> {
    match command {
        SandboxCommand::Reset { store } => {
            store.apply(&mut settings);
            if !settings.is_dev() {
                anyhow::bail!(
                    "sandbox reset is for dev data directories only (this is --env production)"
                );
            }
            if settings.store.backend != StoreBackend::Embedded {
                anyhow::bail!(
                    "sandbox reset works on the embedded store; for Redis, start over with a new \
                     key prefix (store.redis.prefix) or a fresh database"
                );
            }
            let path = settings.store.data_dir.join("eid-gateway.redb");
            if !path.exists() {
                anyhow::bail!("no embedded store at {}", path.display());
            }
            let keep = [
                crate::registry::POPULATION_KEY,
                crate::registry::PERSONAS_KEY,
                crate::relying_parties::registration::VERSION_KEY,
            ];
            let removed =
                crate::store::embedded::sandbox_reset::reset(&path, &keep).map_err(|e| {
                    if e.to_string().contains("already open") {
                        anyhow::anyhow!(
                            "{} is open in a running gateway: stop it, then reset",
                            path.display()
                        )
                    } else {
                        e.into()
                    }
                })?;
            super::runtime()?.block_on(async {
                let db = crate::store::open(&settings.store).await?;
                AuditLog::new(db, Arc::new(SystemClock))
                    .record(AuditKind::SandboxReset, "operator:cli", json!(removed))
                    .await?;
                anyhow::Ok(())
            })?;
            let answer = json!({ "removed": removed, "data_dir": settings.store.data_dir.display().to_string() });
            super::client::output(json, &answer, || {
                format!(
                    "sandbox reset: {} accounts and {} other records removed from {}; keys, registry, relying parties and audit log kept. Start the gateway to prepare the personas again.",
                    removed.accounts,
                    removed.other_records,
                    settings.store.data_dir.display()
                )
            });
            Ok(())
        }
    }
}
