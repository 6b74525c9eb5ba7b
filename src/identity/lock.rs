//! Locking an account: from the next request on, every token of that citizen fails verification
//! with `account_locked`, on every instance (the status lives in the shared store).

use serde_json::json;

use crate::accounts::AccountStatus;
use crate::audit::AuditKind;
use crate::domain::PersonalId;
use crate::services::Services;
use crate::store::StoreError;

/// Locks the account; `false` if there is none. `actor` is `citizen` or `operator:<id>`.
pub async fn lock(services: &Services, id: &PersonalId, actor: &str) -> Result<bool, StoreError> {
    let Some(mut account) = services.accounts.get(id).await? else {
        return Ok(false);
    };
    if !account.is_locked() {
        account.status = AccountStatus::Locked {
            at: services.clock.now(),
        };
        services.accounts.save(&account).await?;
    }
    services
        .audit
        .record(
            AuditKind::AccountLocked,
            actor,
            json!({ "personal_id": id.masked() }),
        )
        .await?;
    Ok(true)
}
