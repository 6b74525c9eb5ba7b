//! Consent remembered per citizen, relying party and scope; listed and withdrawn from the app.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::claims::Scope;
use crate::clock::Timestamp;
use crate::domain::{ClientId, PersonalId};
use crate::services::Services;
use crate::store::{StoreError, Table, get_json, put_json};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Consent {
    #[schema(value_type = Vec<String>)]
    pub scopes: BTreeSet<Scope>,
    #[schema(value_type = i64)]
    pub granted_at: Timestamp,
}

fn key(id: &PersonalId) -> String {
    format!("consents:{}", id.as_str())
}

/// Every consent of a citizen, by client id.
pub async fn list(
    services: &Services,
    id: &PersonalId,
) -> Result<BTreeMap<String, Consent>, StoreError> {
    Ok(get_json(services.store.as_ref(), Table::Meta, &key(id))
        .await?
        .unwrap_or_default())
}

/// Whether the citizen already agreed to give `client` these scopes.
pub async fn covers(
    services: &Services,
    id: &PersonalId,
    client: &ClientId,
    scopes: &BTreeSet<Scope>,
) -> Result<bool, StoreError> {
    Ok(list(services, id)
        .await?
        .get(client.as_str())
        .is_some_and(|c| scopes.is_subset(&c.scopes)))
}

/// Records consent to `scopes` (added to what was given before).
pub async fn grant(
    services: &Services,
    id: &PersonalId,
    client: &ClientId,
    scopes: &BTreeSet<Scope>,
) -> Result<(), StoreError> {
    let mut all = list(services, id).await?;
    let entry = all.entry(client.to_string()).or_insert_with(|| Consent {
        scopes: BTreeSet::new(),
        granted_at: services.clock.now(),
    });
    entry.scopes.extend(scopes.iter().copied());
    entry.granted_at = services.clock.now();
    put_json(services.store.as_ref(), Table::Meta, &key(id), &all).await
}

/// The login families (one per code redemption or kiosk approval) a client holds for a
/// citizen, so that withdrawing consent can end them.
fn families_key(id: &PersonalId, client: &str) -> String {
    format!("oidc-families:{}:{client}", id.as_str())
}

#[derive(Serialize, Deserialize)]
struct IssuedFamily {
    family: String,
    expires_at: Timestamp,
}

/// Remembers that `client` was issued tokens of `family` for this citizen, until `expires_at`.
pub async fn remember_family(
    services: &Services,
    id: &PersonalId,
    client: &ClientId,
    family: &str,
    expires_at: Timestamp,
) -> Result<(), StoreError> {
    let entry = IssuedFamily {
        family: family.to_owned(),
        expires_at,
    };
    services
        .store
        .list_push(
            &families_key(id, client.as_str()),
            crate::store::encode(&entry)?,
        )
        .await
        .map(|_| ())
}

/// Withdraws the consent given to `client` and ends every token it still holds for this citizen:
/// its refresh tokens stop working and its access tokens stop being active. `false` if there
/// was neither a consent nor a live token.
pub async fn withdraw(
    services: &Services,
    id: &PersonalId,
    client: &str,
) -> Result<bool, StoreError> {
    let mut all = list(services, id).await?;
    let removed = all.remove(client).is_some();
    if removed {
        put_json(services.store.as_ref(), Table::Meta, &key(id), &all).await?;
    }
    let now = services.clock.now();
    let issued: Vec<IssuedFamily> = crate::store::newest(
        services.store.as_ref(),
        &families_key(id, client),
        usize::MAX,
    )
    .await?;
    let mut revoked = false;
    for f in issued.iter().filter(|f| f.expires_at > now) {
        if !super::grants::family_revoked(services, &f.family).await? {
            super::grants::revoke_family(services, &f.family).await?;
            revoked = true;
        }
    }
    Ok(removed || revoked)
}
