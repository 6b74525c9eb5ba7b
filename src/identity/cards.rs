//! Card administration by operators: issuing chip ID cards (with test defects) and revoking
//! lost ones. Every action is audited with the operator's id.

use serde::Deserialize;
use serde_json::json;

use super::IdentityError;
use crate::audit::AuditKind;
use crate::chip::{ChipImage, Defect};
use crate::domain::PersonalId;
use crate::services::Services;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueCardRequest {
    pub personal_id: String,
    /// A deliberate defect, for relying-party testing.
    #[serde(default)]
    pub defect: Option<Defect>,
}

/// Issues a card for a registry person; the registry records it as the person's current card
/// (a forgery is not recorded: the state never issued it).
pub async fn issue(
    services: &Services,
    operator: &str,
    req: IssueCardRequest,
) -> Result<ChipImage, IdentityError> {
    let id = PersonalId::parse(&req.personal_id)
        .map_err(|e| IdentityError::invalid("invalid_personal_id", e.to_string()))?;
    let mut person = services
        .registry
        .person(&id)
        .await?
        .ok_or(IdentityError::NotFound("no such person in the registry"))?;
    let templates = services
        .registry
        .templates(&id)
        .await?
        .ok_or(IdentityError::NotFound("no such person in the registry"))?;
    let today = services.chips.today();
    let issuer = services.card_issuer.clone();
    let (p, face, defect) = (person.clone(), templates.face.clone(), req.defect);
    // Key generation and file reads: off the async workers.
    let issued = tokio::task::spawn_blocking(move || issuer.issue(&p, &face, today, defect))
        .await
        .map_err(|e| {
            IdentityError::Issue(crate::chip::issuance::IssueError::Other(e.to_string()))
        })??;
    if let Some(record) = issued.record.clone() {
        services.registry.register_card(&mut person, record).await?;
    }
    services
        .audit
        .record(
            AuditKind::CardIssued,
            &format!("operator:{operator}"),
            json!({
                "personal_id": id.masked(),
                "card_number": issued.image.card_number,
                "defect": req.defect.map(Defect::name),
            }),
        )
        .await?;
    Ok(issued.image)
}

/// Revokes a card (reported lost): its chip fails with `card_revoked` from now on.
pub async fn revoke(
    services: &Services,
    operator: &str,
    card_number: &str,
) -> Result<(), IdentityError> {
    if !services.registry.revoke_card(card_number).await? {
        return Err(IdentityError::NotFound("no such card"));
    }
    services
        .audit
        .record(
            AuditKind::CardRevoked,
            &format!("operator:{operator}"),
            json!({ "card_number": card_number }),
        )
        .await?;
    Ok(())
}
