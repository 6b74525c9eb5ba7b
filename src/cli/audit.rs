//! `eidgw audit verify`.

use clap::Subcommand;

use super::StoreArgs;
use super::client::GatewayClient;
use super::exit::NegativeAnswer;
use crate::audit::{ChainReport, Checkpoint, verify_against};
use crate::config::Settings;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute the hash chain; exits non-zero if any entry was edited, removed or reordered.
    Verify {
        #[command(flatten)]
        store: StoreArgs,
        /// The checkpoint a gateway keeps outside the chain (default: audit-checkpoint.json in
        /// the data directory, if it is there). The chain must still reach it.
        #[arg(long, conflicts_with = "gateway")]
        checkpoint: Option<std::path::PathBuf>,
        /// Check through this running gateway (operator API) instead of opening the store:
        /// the way to check an embedded store a gateway holds open.
        #[arg(long, env = "EIDGW_GATEWAY")]
        gateway: Option<String>,
        #[command(flatten)]
        operator: super::card::OperatorCredentials,
    },
}

pub fn run(mut settings: Settings, json: bool, command: AuditCommand) -> anyhow::Result<()> {
    match command {
        AuditCommand::Verify {
            store,
            checkpoint,
            gateway,
            operator,
        } => {
            let report = match gateway {
                Some(url) => super::runtime()?.block_on(through_gateway(&url, &operator))?,
                None => {
                    store.apply(&mut settings);
                    local(&settings, checkpoint)?
                }
            };
            print(json, &report);
            if report.intact {
                Ok(())
            } else {
                Err(NegativeAnswer(format!(
                    "audit log broken at entry {}: {}",
                    report.broken_at.unwrap_or_default(),
                    report.problem.as_deref().unwrap_or("?")
                ))
                .into())
            }
        }
    }
}

async fn through_gateway(
    url: &str,
    operator: &super::card::OperatorCredentials,
) -> anyhow::Result<ChainReport> {
    let client = GatewayClient::new(url)?;
    let req = client
        .request(reqwest::Method::GET, "/v1/operator/audit")
        .basic_auth(&operator.operator, Some(&operator.operator_secret));
    Ok(serde_json::from_value(client.send(req).await?)?)
}

fn local(
    settings: &Settings,
    checkpoint: Option<std::path::PathBuf>,
) -> anyhow::Result<ChainReport> {
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
        let db = crate::store::open(&settings.store).await.map_err(|e| {
            if format!("{e:#}").contains("already open") {
                anyhow::anyhow!(
                    "the store in {} is open in a running gateway: check through it with \
                     `eidgw audit verify --gateway http://127.0.0.1:8080` (operator credentials \
                     from EIDGW_OPERATOR_ID/EIDGW_OPERATOR_SECRET), or stop it first",
                    settings.store.data_dir.display()
                )
            } else {
                e
            }
        })?;
        let status = verify_against(db.as_ref(), cp.as_ref()).await?;
        Ok(ChainReport::of(&status, cp.as_ref()))
    })
}

fn print(json: bool, report: &ChainReport) {
    let value = serde_json::to_value(report).unwrap_or_default();
    super::client::output(json, &value, || match report {
        ChainReport {
            intact: true,
            entries,
            checkpoint_seq: Some(seq),
            ..
        } => format!(
            "audit log intact: {} entries, reaching its checkpoint at entry {seq}",
            entries.unwrap_or_default()
        ),
        ChainReport {
            intact: true,
            entries,
            ..
        } => format!(
            "audit log intact: {} entries (no checkpoint: loss of the whole log cannot be ruled out)",
            entries.unwrap_or_default()
        ),
        ChainReport {
            broken_at, problem, ..
        } => format!(
            "audit log BROKEN at entry {}: {}",
            broken_at.unwrap_or_default(),
            problem.as_deref().unwrap_or("?")
        ),
    });
}
