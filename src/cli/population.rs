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
        /// How many people to write (e.g. 1000 for a dev registry, 1000000 for load tests).
        #[arg(long)]
        count: usize,
        /// The generator seed: the same seed and count write the same file, byte for byte.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Where to write the people file (JSON Lines).
        #[arg(long, default_value = "people.jsonl")]
        out: PathBuf,
    },
    /// Load a people file into the registry (opens the store directly: for the embedded store,
    /// stop the gateway first).
    Import {
        /// The people file to import (from `population generate`).
        file: PathBuf,
        #[command(flatten)]
        store: StoreArgs,
    },
}

pub fn run(
    load: impl Fn() -> anyhow::Result<Settings>,
    json: bool,
    command: PopulationCommand,
) -> anyhow::Result<()> {
    match command {
        PopulationCommand::Generate { count, seed, out } => {
            let started = std::time::Instant::now();
            let progress = super::progress::bar(Some(count as u64), "people");
            crate::population::generator::generate_to_file_with(&out, count, seed, |n| {
                progress.set_position(n)
            })?;
            progress.finish_and_clear();
            let secs = started.elapsed().as_secs_f64();
            let answer = json!({ "people": count, "seed": seed, "out": out.display().to_string(), "seconds": secs });
            super::client::output(json, &answer, || {
                format!(
                    "wrote {count} people (seed {seed}) to {} in {secs:.1}s",
                    out.display()
                )
            });
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
                let progress = super::progress::bar(None, "people");
                let report = crate::population::import::import_file_with(
                    &registry,
                    &file,
                    settings.biometrics.enrolment_noise,
                    now,
                    |n| progress.set_position(n),
                )
                .await?;
                progress.finish_and_clear();
                let audit = AuditLog::new(db, Arc::new(SystemClock));
                audit
                    .record(
                        AuditKind::PopulationImported,
                        "operator:cli",
                        json!({ "people": report.people, "file": file.display().to_string() }),
                    )
                    .await?;
                let secs = report.elapsed.as_secs_f64();
                let rate = report.people as f64 / secs.max(1e-9);
                let answer =
                    json!({ "people": report.people, "seconds": secs, "people_per_second": rate });
                super::client::output(json, &answer, || {
                    format!(
                        "imported {} people in {secs:.1}s ({rate:.0} people/s)",
                        report.people
                    )
                });
                Ok(())
            })
        }
    }
}
