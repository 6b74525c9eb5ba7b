//! `eidgw population generate|import`.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Subcommand;
use serde_json::json;

use super::StoreArgs;
use crate::audit::{AuditKind, AuditLog};
use crate::clock::{Clock, SystemClock};
use crate::config::Settings;
use crate::registry::Registry;

#[derive(Debug, Subcommand)]
pub enum PopulationCommand {
    /// Write a deterministic file of synthetic people (JSON Lines, with true biometric vectors).
    Generate {
        #[arg(long)]
        count: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, default_value = "people.jsonl")]
        out: PathBuf,
    },
    /// Load a people file into the registry (opens the store directly: for the embedded store,
    /// stop the gateway first).
    Import {
        file: PathBuf,
        #[command(flatten)]
        store: StoreArgs,
    },
}

pub fn run(
    load: impl Fn() -> anyhow::Result<Settings>,
    command: PopulationCommand,
) -> anyhow::Result<()> {
    match command {
        PopulationCommand::Generate { count, seed, out } => {
            let started = std::time::Instant::now();
            crate::population::generate_to_file(&out, count, seed)?;
            println!(
                "wrote {count} people (seed {seed}) to {} in {:.1}s",
                out.display(),
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        PopulationCommand::Import { file, store } => {
            let mut settings = load()?;
            store.apply(&mut settings);
            super::runtime()?.block_on(async move {
                let db = crate::store::open(&settings.store).await.map_err(|e| {
                    anyhow::anyhow!(
                        "{e:#} (is a gateway running on this data directory? stop it or use Redis)"
                    )
                })?;
                let registry = Registry::new(db.clone());
                let now = SystemClock.now();
                let report = crate::population::import_file(
                    &registry,
                    &file,
                    settings.biometrics.enrolment_noise,
                    now,
                )
                .await?;
                let audit = AuditLog::new(db, Arc::new(SystemClock));
                audit
                    .record(
                        AuditKind::PopulationImported,
                        "operator:cli",
                        json!({ "people": report.people, "file": file.display().to_string() }),
                    )
                    .await?;
                let secs = report.elapsed.as_secs_f64();
                println!(
                    "imported {} people in {secs:.1}s ({:.0} people/s)",
                    report.people,
                    report.people as f64 / secs.max(1e-9)
                );
                Ok(())
            })
        }
    }
}
