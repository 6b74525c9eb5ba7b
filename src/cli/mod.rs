//! The `eidgw` command line (clap derive). Each subcommand lives in its own file.

mod audit;
mod bench;
mod bench_enumeration;
mod bench_load;
mod card;
mod client;
mod config_check;
mod keys;
mod population;
mod rp;
mod rp_admin;
mod serve;
mod sim;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::{Environment, Settings, StoreBackend};

#[derive(Debug, Parser)]
#[command(
    name = "eidgw",
    version,
    about = "Electronic-identity authentication gateway (VNeID simulation)"
)]
pub struct Cli {
    /// Directory holding default.toml, dev.toml, production.toml and relying_parties.toml.
    #[arg(
        long,
        global = true,
        default_value = "config",
        env = "EIDGW_CONFIG_DIR"
    )]
    pub config_dir: PathBuf,
    /// Which environment file to layer over the defaults.
    #[arg(
        long = "env",
        global = true,
        value_enum,
        env = "EIDGW_ENV",
        default_value = "dev"
    )]
    pub environment: Environment,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway.
    Serve(serve::ServeArgs),
    /// Manage the key directory (signing keyring, pairwise secret, card authority).
    Keys {
        #[command(subcommand)]
        command: keys::KeysCommand,
    },
    /// Generate and import the synthetic population.
    Population {
        #[command(subcommand)]
        command: population::PopulationCommand,
    },
    /// Check the configuration.
    Config {
        #[command(subcommand)]
        command: config_check::ConfigCommand,
    },
    /// Check the audit log.
    Audit {
        #[command(subcommand)]
        command: audit::AuditCommand,
    },
    /// Issue chip ID cards through a running gateway's operator API.
    Card {
        #[command(subcommand)]
        command: card::CardCommand,
    },
    /// Act as the citizen's app against a running gateway.
    Sim(sim::SimArgs),
    /// Act as a relying party against a running gateway.
    Rp(rp::RpArgs),
    /// List the sandbox personas of a running dev gateway: one citizen per state, with the
    /// codes a relying party will see.
    Personas {
        #[arg(long, default_value = "http://127.0.0.1:8080", env = "EIDGW_GATEWAY")]
        gateway: String,
        /// Print the JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the OpenAPI document the gateway serves at /openapi.json (no gateway needed).
    Openapi,
    /// Measure performance figures.
    Bench {
        #[command(subcommand)]
        command: bench::BenchCommand,
    },
}

/// Overrides of the store location, for commands that open the store themselves.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// Data directory of the embedded store (overrides `store.data_dir`).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Store backend (overrides `store.backend`).
    #[arg(long, value_parser = parse_backend)]
    pub backend: Option<StoreBackend>,
}

fn parse_backend(s: &str) -> Result<StoreBackend, String> {
    match s {
        "embedded" => Ok(StoreBackend::Embedded),
        "redis" => Ok(StoreBackend::Redis),
        _ => Err("embedded or redis".into()),
    }
}

impl StoreArgs {
    pub fn apply(&self, settings: &mut Settings) {
        if let Some(d) = &self.data_dir {
            settings.store.data_dir = d.clone();
        }
        if let Some(b) = self.backend {
            settings.store.backend = b;
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    let load = || Settings::load(&cli.config_dir, cli.environment).map_err(anyhow::Error::from);
    match cli.command {
        Command::Serve(args) => serve::run(load()?, args),
        Command::Keys { command } => keys::run(load()?, command),
        Command::Population { command } => population::run(load, command),
        Command::Config { command } => config_check::run(load, command),
        Command::Audit { command } => audit::run(load()?, command),
        Command::Bench { command } => bench::run(load()?, command),
        Command::Card { command } => card::run(command),
        Command::Sim(args) => sim::run(args),
        Command::Rp(args) => rp::run(args),
        Command::Personas { gateway, json } => sim::list_personas(&gateway, json),
        Command::Openapi => {
            println!(
                "{}",
                serde_json::to_string_pretty(&crate::http::openapi::document())?
            );
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::Cli;

    #[test]
    fn base64url_values_that_start_with_a_hyphen_are_values_not_flags() {
        for args in [
            vec![
                "eidgw",
                "sim",
                "chip-read",
                "--challenge",
                "-cg5VNEMRznS4dHuibnAVfaIcGCJ5",
            ],
            vec![
                "eidgw",
                "sim",
                "present",
                "--rp",
                "vietsky-air",
                "--nonce",
                "-n0nce",
            ],
            vec![
                "eidgw", "rp", "verify", "--rp", "x", "--secret", "-s", "--nonce", "-n", "eyJ",
            ],
            vec![
                "eidgw",
                "sim",
                "approve",
                "-chqSk8-5N5-i8EJImQ_OiVKRYE",
                "--face",
            ],
            vec!["eidgw", "sim", "deny", "-chqSk8-5N5"],
            vec!["eidgw", "sim", "scan", "-qr-code"],
        ] {
            assert!(Cli::try_parse_from(&args).is_ok(), "{args:?}");
        }
    }
}
