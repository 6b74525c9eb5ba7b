//! `eidgw config check`.

use clap::Subcommand;

use crate::config::Settings;
use crate::keys::{KeyDir, Origin};
use crate::relying_parties::RegistryFile;

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Load and validate the layered configuration, the relying-party file and the key set.
    Check,
}

pub fn run(
    load: impl Fn() -> anyhow::Result<Settings>,
    command: ConfigCommand,
) -> anyhow::Result<()> {
    match command {
        ConfigCommand::Check => {
            let settings = load()?;
            let rps = RegistryFile::load(&settings.relying_parties.file, settings.mode)
                .map_err(anyhow::Error::msg)?;
            let keys = KeyDir::new(&settings.keys.dir);
            let key_state = match keys.origin() {
                Ok(Origin::Dev) if !settings.is_dev() => anyhow::bail!(
                    "{}: dev keys are refused in production",
                    keys.root().display()
                ),
                Ok(origin) => format!("{origin:?} keys"),
                Err(_) if settings.is_dev() => {
                    "none yet (dev mode creates them on first start)".into()
                }
                Err(e) => return Err(e.into()),
            };
            println!("configuration OK");
            println!("  mode:            {:?}", settings.mode);
            if settings.server.public_url.is_empty() {
                println!(
                    "  issuer:          (unset: the address the gateway binds, http://127.0.0.1:{})",
                    settings.server.port
                );
            } else {
                println!("  issuer:          {}", settings.server.public_url);
            }
            println!(
                "  store:           {:?} ({})",
                settings.store.backend,
                settings.store.data_dir.display()
            );
            println!("  relying parties: {}", rps.relying_parties.len());
            println!(
                "  keys:            {key_state} in {}",
                keys.root().display()
            );
            Ok(())
        }
    }
}
