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
    json: bool,
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
            let issuer = if settings.server.public_url.is_empty() {
                None
            } else {
                Some(settings.server.public_url.clone())
            };
            let answer = serde_json::json!({
                "ok": true,
                "mode": format!("{:?}", settings.mode).to_lowercase(),
                "issuer": issuer,
                "port": settings.server.port,
                "store": {
                    "backend": format!("{:?}", settings.store.backend).to_lowercase(),
                    "data_dir": settings.store.data_dir.display().to_string(),
                },
                "relying_parties": rps.relying_parties.len(),
                "keys": { "state": key_state, "dir": keys.root().display().to_string() },
            });
            super::client::output(json, &answer, || {
                let issuer = match &issuer {
                    Some(url) => url.clone(),
                    None => format!(
                        "(unset: the address the gateway binds, http://127.0.0.1:{})",
                        settings.server.port
                    ),
                };
                format!(
                    "configuration OK\n  mode:            {:?}\n  issuer:          {issuer}\n  store:           {:?} ({})\n  relying parties: {}\n  keys:            {key_state} in {}",
                    settings.mode,
                    settings.store.backend,
                    settings.store.data_dir.display(),
                    rps.relying_parties.len(),
                    keys.root().display()
                )
            });
            Ok(())
        }
    }
}
