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

/// Withdraws the consent given to `client`; `false` if there was none.
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
    Ok(removed)
}
