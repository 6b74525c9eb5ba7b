//! The `eidgw` command line (clap derive). Each subcommand lives in its own file.

mod audit;
mod bench;
mod bench_enumeration;
mod bench_load;
mod card;
mod client;
mod config_check;
mod demo;
pub mod exit;
mod history;
mod keys;
mod population;
mod progress;
mod rp;
mod rp_admin;
mod sandbox;
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
        /// Print one JSON document on stdout.
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        command: keys::KeysCommand,
    },
    /// Generate and import the synthetic population.
    Population {
        /// Print one JSON document on stdout.
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        command: population::PopulationCommand,
    },
    /// Check the configuration.
    Config {
        /// Print one JSON document on stdout.
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        command: config_check::ConfigCommand,
    },
    /// Check the audit log.
    Audit {
        /// Print one JSON document on stdout.
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        command: audit::AuditCommand,
    },
    /// Start a dev data directory over.
    Sandbox {
        /// Print one JSON document on stdout.
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        command: sandbox::SandboxCommand,
    },
    /// Issue chip ID cards through a running gateway's operator API.
    Card {
        /// Print one JSON document on stdout.
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        command: card::CardCommand,
    },
    /// Check a citizen's signed usage-history export (offline against a saved JWKS, or against
    /// a gateway's published keys).
    History {
        /// Print one JSON document on stdout.
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        command: history::HistoryCommand,
    },
    /// Act as the citizen's app against a running gateway.
    Sim(sim::SimArgs),
    /// Act as a relying party against a running gateway.
    Rp(rp::RpArgs),
    /// Serve the relying parties' desks (portal login, boarding gate) against a running
    /// sandbox gateway, as real clients of its public APIs.
    Demo(demo::DemoArgs),
    /// List the sandbox personas of a running dev gateway: one citizen per state, with the
    /// codes a relying party will see.
    Personas {
        /// The gateway's base URL.
        #[arg(long, default_value = "http://127.0.0.1:8080", env = "EIDGW_GATEWAY")]
        gateway: String,
        /// Print the JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the OpenAPI document the gateway serves at /openapi.json (no gateway needed).
    Openapi,
    /// Print the recommended citizen message for every code the gateway answers with (the
    /// catalogue `GET /v1/messages` serves; no gateway needed).
    Messages {
        /// `vi` or `en`.
        #[arg(long, default_value = "vi")]
        lang: String,
        /// The README's table: every code in both languages, as Markdown.
        #[arg(long, conflicts_with = "json")]
        markdown: bool,
        /// Print the JSON `GET /v1/messages` answers.
        #[arg(long)]
        json: bool,
    },
    /// Measure performance figures.
    Bench {
        /// Print one JSON document on stdout (the load and rate benches always do).
        #[arg(long, global = true)]
        json: bool,
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
        Command::Keys { json, command } => keys::run(load()?, json, command),
        Command::Population { json, command } => population::run(load, json, command),
        Command::Config { json, command } => config_check::run(load, json, command),
        Command::Audit { json, command } => audit::run(load()?, json, command),
        Command::Bench { json, command } => bench::run(load()?, json, command),
        Command::Card { json, command } => card::run(json, command),
        Command::History { json, command } => history::run(json, command),
        Command::Sandbox { json, command } => sandbox::run(load()?, json, command),
        Command::Sim(args) => sim::run(args),
        Command::Rp(args) => rp::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Personas { gateway, json } => sim::list_personas(&gateway, json),
        Command::Messages {
            lang,
            markdown,
            json,
        } => messages(&lang, markdown, json),
        Command::Openapi => {
            println!(
                "{}",
                serde_json::to_string_pretty(&crate::http::openapi::document())?
            );
            Ok(())
        }
    }
}

fn messages(lang: &str, markdown: bool, json: bool) -> anyhow::Result<()> {
    use crate::i18n::{Lang, catalogue};
    if markdown {
        print!("{}", catalogue::markdown());
        return Ok(());
    }
    let lang = Lang::parse(lang).ok_or_else(|| anyhow::anyhow!("--lang must be vi or en"))?;
    let all = catalogue::all(lang);
    if json {
        println!("{}", serde_json::json!({ "lang": lang, "messages": all }));
    } else {
        for (family, codes) in all {
            for (code, text) in codes {
                println!("{family:<10} {code:<32} {text}");
            }
        }
    }
    Ok(())
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

#[cfg(test)]
mod every_flag {
    use clap::CommandFactory;

    use super::Cli;

    fn walk(cmd: &clap::Command, path: String, out: &mut Vec<(String, clap::Arg)>) {
        for arg in cmd.get_arguments() {
            out.push((path.clone(), arg.clone()));
        }
        for sub in cmd.get_subcommands() {
            walk(sub, format!("{path} {}", sub.get_name()), out);
        }
    }

    fn all_args() -> Vec<(String, clap::Arg)> {
        let mut out = Vec::new();
        walk(&Cli::command(), "eidgw".into(), &mut out);
        out
    }

    #[test]
    fn every_flag_and_argument_has_help_text() {
        let missing: Vec<String> = all_args()
            .into_iter()
            .filter(|(_, a)| !matches!(a.get_id().as_str(), "help" | "version"))
            .filter(|(_, a)| a.get_help().is_none() && a.get_long_help().is_none())
            .map(|(path, a)| format!("{path} {}", a.get_id()))
            .collect();
        assert!(missing.is_empty(), "no help text: {missing:#?}");
    }

    #[test]
    fn every_gateway_flag_reads_eidgw_gateway() {
        let gateway_args: Vec<_> = all_args()
            .into_iter()
            .filter(|(_, a)| a.get_id() == "gateway")
            .collect();
        assert!(gateway_args.len() >= 5, "{}", gateway_args.len());
        for (path, a) in gateway_args {
            assert_eq!(
                a.get_env().and_then(|e| e.to_str()),
                Some("EIDGW_GATEWAY"),
                "{path} --gateway"
            );
        }
    }

    #[test]
    fn every_command_that_prints_an_answer_takes_json() {
        fn leaves(cmd: &clap::Command, path: String, json_above: bool, out: &mut Vec<String>) {
            let has_json = json_above
                || cmd
                    .get_arguments()
                    .any(|a| a.get_id() == "json" && a.is_global_set())
                || cmd.get_arguments().any(|a| a.get_id() == "json");
            let inherited = json_above
                || cmd
                    .get_arguments()
                    .any(|a| a.get_id() == "json" && a.is_global_set());
            if cmd.get_subcommands().next().is_none() {
                if !has_json {
                    out.push(path);
                }
                return;
            }
            for sub in cmd.get_subcommands() {
                leaves(sub, format!("{path} {}", sub.get_name()), inherited, out);
            }
        }
        let mut without = Vec::new();
        leaves(&Cli::command(), "eidgw".into(), false, &mut without);
        // Commands whose output is itself a document or a server, not an answer to print.
        let exempt = ["eidgw serve", "eidgw openapi", "eidgw help"];
        // `demo` is a server; its --json prints the address it listens at.
        without.retain(|p| !exempt.iter().any(|e| p.starts_with(e)) && !p.ends_with(" help"));
        assert!(without.is_empty(), "no --json: {without:#?}");
    }
}
