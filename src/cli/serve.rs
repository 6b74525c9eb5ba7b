//! `eidgw serve`.

use std::path::PathBuf;

use clap::Args;

use super::StoreArgs;
use crate::config::Settings;
use crate::startup::Application;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Port to listen on (overrides `server.port`).
    #[arg(long)]
    pub port: Option<u16>,
    /// The issuer: the URL clients reach the gateway at (overrides `server.public_url`; unset in
    /// dev, it is the address bound, e.g. http://127.0.0.1:PORT).
    #[arg(long)]
    pub public_url: Option<String>,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Key directory (overrides `keys.dir`).
    #[arg(long)]
    pub keys_dir: Option<PathBuf>,
}

pub fn run(mut settings: Settings, args: ServeArgs) -> anyhow::Result<()> {
    if let Some(p) = args.port {
        settings.server.port = p;
    }
    if let Some(u) = args.public_url {
        settings.server.public_url = u;
    }
    if let Some(k) = args.keys_dir {
        settings.keys.dir = k;
    }
    args.store.apply(&mut settings);
    settings.validate()?;
    crate::telemetry::init(&settings.log);
    super::runtime()?.block_on(async move {
        let app = Application::build(settings).await?;
        app.run_until_stopped().await?;
        Ok(())
    })
}
