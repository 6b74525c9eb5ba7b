//! `eidgw audit verify`.

use clap::Subcommand;

use super::StoreArgs;
use crate::audit::{ChainStatus, verify};
use crate::config::Settings;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute the hash chain; exits non-zero if any entry was edited, removed or reordered.
    Verify {
        #[command(flatten)]
        store: StoreArgs,
    },
}

pub fn run(mut settings: Settings, command: AuditCommand) -> anyhow::Result<()> {
    match command {
        AuditCommand::Verify { store } => {
            store.apply(&mut settings);
            super::runtime()?.block_on(async move {
                let db = crate::store::open(&settings.store).await?;
                match verify(db.as_ref()).await? {
                    ChainStatus::Intact { entries } => {
                        println!("audit log intact: {entries} entries");
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
