//! `eidgw bench …`: repeatable measurements (see also `scripts/bench-*`).

use std::io::BufRead;
use std::path::PathBuf;
use std::time::Instant;

use clap::Subcommand;
use rand::SeedableRng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha12Rng;

use super::StoreArgs;
use crate::config::Settings;
use crate::domain::PersonalId;
use crate::registry::Registry;

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Random registry lookups against an imported population: p50/p99 latency.
    Registry {
        /// The people file that was imported (to know which ids exist).
        #[arg(long)]
        people: PathBuf,
        #[arg(long, default_value_t = 100_000)]
        lookups: usize,
        #[command(flatten)]
        store: StoreArgs,
    },
}

fn percentile(sorted: &[u128], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)] as f64 / 1000.0
}

pub fn run(mut settings: Settings, command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Registry {
            people,
            lookups,
            store,
        } => {
            store.apply(&mut settings);
            let file = std::io::BufReader::new(std::fs::File::open(&people)?);
            // Read only the id of each line; parsing the whole record (vectors) is not needed.
            const FIELD: &str = "\"personal_id\":\"";
            let ids: Vec<PersonalId> = file
                .lines()
                .map_while(Result::ok)
                .filter_map(|l| {
                    let start = l.find(FIELD)? + FIELD.len();
                    PersonalId::parse(l.get(start..start + 12)?).ok()
                })
                .collect();
            anyhow::ensure!(
                !ids.is_empty(),
                "no personal ids found in {}",
                people.display()
            );
            let mut rng = ChaCha12Rng::seed_from_u64(99);
            let sample: Vec<PersonalId> = (0..lookups)
                .filter_map(|_| ids.choose(&mut rng).cloned())
                .collect();
            super::runtime()?.block_on(async move {
                let db = crate::store::open(&settings.store).await?;
                let registry = Registry::new(db);
                let mut times = Vec::with_capacity(sample.len());
                let started = Instant::now();
                for id in &sample {
                    let t = Instant::now();
                    let found = registry.person(id).await?;
                    times.push(t.elapsed().as_nanos());
                    anyhow::ensure!(found.is_some(), "{id} is in the file but not in the registry");
                }
                let total = started.elapsed();
                times.sort_unstable();
                println!(
                    "registry lookups: {} of {} people, p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs, {:.0} lookups/s",
                    sample.len(),
                    ids.len(),
                    percentile(&times, 0.50),
                    percentile(&times, 0.99),
                    percentile(&times, 1.0),
                    sample.len() as f64 / total.as_secs_f64()
                );
                Ok(())
            })
        }
    }
}
