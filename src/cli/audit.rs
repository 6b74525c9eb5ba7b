//! `eidgw audit verify`.

use clap::Subcommand;

use super::StoreArgs;
use crate::audit::{ChainStatus, Checkpoint, verify_against};
use crate::config::Settings;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute the hash chain; exits non-zero if any entry was edited, removed or reordered.
    Verify {
        #[command(flatten)]
        store: StoreArgs,
        /// The checkpoint a gateway keeps outside the chain (default: audit-checkpoint.json in
        /// the data directory, if it is there). The chain must still reach it.
        #[arg(long)]
        checkpoint: Option<std::path::PathBuf>,
    },
}

pub fn run(mut settings: Settings, command: AuditCommand) -> anyhow::Result<()> {
    match command {
        AuditCommand::Verify { store, checkpoint } => {
            store.apply(&mut settings);
            let path = checkpoint
                .clone()
                .unwrap_or_else(|| Checkpoint::path(&settings.store.data_dir));
            let cp = match Checkpoint::read(&path) {
                Ok(cp) => cp,
                Err(e) => anyhow::bail!("cannot read the checkpoint {}: {e}", path.display()),
            };
            if checkpoint.is_some() && cp.is_none() {
                anyhow::bail!("no checkpoint at {}", path.display());
            }
            super::runtime()?.block_on(async move {
                let db = crate::store::open(&settings.store).await?;
                match verify_against(db.as_ref(), cp.as_ref()).await? {
                    ChainStatus::Intact { entries } => {
                        match &cp {
                            Some(cp) => println!(
                                "audit log intact: {entries} entries, reaching its checkpoint at entry {}",
                                cp.seq
                            ),
                            None => println!(
                                "audit log intact: {entries} entries (no checkpoint at {}: loss of the whole log cannot be ruled out)",
                                path.display()
                            ),
                        }
                        Ok(())
                    }
                    ChainStatus::Broken { at_seq, problem } => {
                        anyhow::bail!("audit log broken at entry {at_seq}: {problem}")
                    }
                }
            })
        }
    }
}
