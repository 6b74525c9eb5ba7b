//! `eidgw demo`: the relying parties' desks against a running sandbox gateway.

use std::path::PathBuf;

use clap::Args;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// The gateway's base URL (a dev-mode gateway: the demo refuses any other).
    #[arg(long, default_value = "http://127.0.0.1:8080", env = "EIDGW_GATEWAY")]
    pub gateway: String,
    /// Port the desks listen on (the portal's registered redirect URI is on 8090).
    #[arg(long, default_value_t = 8090)]
    pub port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Where browsers reach the demo (default http://127.0.0.1:PORT).
    #[arg(long)]
    pub public_url: Option<String>,
    /// The desks' sandbox credentials.
    #[arg(long, default_value = "config/sandbox/demo.toml")]
    pub credentials: PathBuf,
    /// The people file of the sandbox gateway (its camera plays their faces on the phone).
    #[arg(long, default_value = "data/people.jsonl")]
    pub people: PathBuf,
    /// Print one JSON line with the demo's address once it listens.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    super::runtime()?.block_on(async move {
        let credentials = crate::demo::Credentials::load(&args.credentials)?;
        let gateway = crate::demo::Gateway::connect(&args.gateway, credentials).await?;
        let people = crate::demo::People::load(&args.people)?;
        let listener = std::net::TcpListener::bind((args.host.as_str(), args.port))
            .map_err(|e| anyhow::anyhow!("cannot listen on {}:{}: {e}", args.host, args.port))?;
        let listen = crate::demo::Listen {
            listener,
            public_url: args.public_url.clone(),
        };
        let (server, port) = crate::demo::serve(gateway, listen, Some(people)).await?;
        let url = args
            .public_url
            .unwrap_or_else(|| format!("http://127.0.0.1:{port}"));
        super::client::output(
            args.json,
            &serde_json::json!({ "demo": url, "gateway": args.gateway }),
            || {
                format!(
                    "demo at {url}/ (the phone {url}/phone/, the desks {url}/portal/, {url}/gate/, {url}/hospital/) for {}",
                    args.gateway
                )
            },
        );
        server.await?;
        Ok(())
    })
}
