//! Loading a people file into the registry: personal data plus *enrolled* templates (the true
//! vectors with enrolment noise, as a real enrolment station would capture them).

use std::io::BufRead;
use std::path::Path;
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand_chacha::ChaCha12Rng;

use super::PersonTruth;
use crate::biometrics::EnrolledTemplates;
use crate::clock::Timestamp;
use crate::domain::Person;
use crate::registry::{PopulationInfo, Registry};

const BATCH: usize = 2_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportReport {
    pub people: u64,
    pub elapsed: Duration,
}

/// What the registry enrols for a person: truth plus enrolment noise, deterministic per person
/// so that re-importing gives the same templates.
pub fn enrol(truth: &PersonTruth, noise: f32) -> (Person, EnrolledTemplates) {
    let seed: u64 = truth.person.personal_id.as_str().parse().unwrap_or(0);
    let mut rng = ChaCha12Rng::seed_from_u64(seed ^ 0x5EED_E4A0_11ED);
    let templates = EnrolledTemplates {
        face: truth.face.with_noise(&mut rng, noise),
        fingerprints: [
            truth.fingerprints[0].with_noise(&mut rng, noise),
            truth.fingerprints[1].with_noise(&mut rng, noise),
        ],
    };
    (truth.person.clone(), templates)
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("line {line}: not a person record: {message}")]
    Line { line: u64, message: String },
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// Imports every line of `path`. Parsing and enrolment run on a blocking thread while the
/// previous batch is being written, so the two cores both work.
pub async fn import_file(
    registry: &Registry,
    path: &Path,
    noise: f32,
    now: Timestamp,
) -> Result<ImportReport, ImportError> {
    import_file_with(registry, path, noise, now, |_| {}).await
}

/// [`import_file`], telling `imported` how many people are in the registry so far (per batch).
pub async fn import_file_with(
    registry: &Registry,
    path: &Path,
    noise: f32,
    now: Timestamp,
    mut imported: impl FnMut(u64),
) -> Result<ImportReport, ImportError> {
    let started = Instant::now();
    let file = std::fs::File::open(path).map_err(|source| ImportError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let (tx, mut rx) =
        tokio::sync::mpsc::channel::<Result<Vec<(Person, EnrolledTemplates)>, ImportError>>(2);
    let display = path.display().to_string();
    let producer = tokio::task::spawn_blocking(move || {
        let reader = std::io::BufReader::with_capacity(1 << 20, file);
        let mut batch = Vec::with_capacity(BATCH);
        for (n, line) in reader.lines().enumerate() {
            let item = line
                .map_err(|source| ImportError::Read {
                    path: display.clone(),
                    source,
                })
                .and_then(|l| {
                    serde_json::from_str::<PersonTruth>(&l).map_err(|e| ImportError::Line {
                        line: n as u64 + 1,
                        message: e.to_string(),
                    })
                });
            match item {
                Ok(truth) => batch.push(enrol(&truth, noise)),
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            }
            if batch.len() == BATCH && tx.blocking_send(Ok(std::mem::take(&mut batch))).is_err() {
                return;
            }
        }
        if !batch.is_empty() {
            let _ = tx.blocking_send(Ok(batch));
        }
    });
    let mut people = 0u64;
    while let Some(batch) = rx.recv().await {
        let batch = batch?;
        people += batch.len() as u64;
        registry.enrol_batch(batch).await?;
        imported(people);
    }
    let _ = producer.await;
    registry
        .set_population(&PopulationInfo {
            people,
            imported_at: now,
            source: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        })
        .await?;
    Ok(ImportReport {
        people,
        elapsed: started.elapsed(),
    })
}
