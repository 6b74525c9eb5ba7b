//! The citizen's usage history: who verified or received what, when, for which purpose.

use serde::{Deserialize, Serialize};

use crate::domain::PersonalId;
use crate::store::{SharedStore, StoreError, encode};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UsageEntry {
    pub at: i64,
    pub client_id: String,
    pub relying_party: String,
    /// What happened: `verify`, …
    pub action: String,
    /// Names of the claims the relying party received.
    pub claims: Vec<String>,
    pub verification_id: String,
    /// Why the relying party asked (attribute matches state their purpose).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
}

/// The store list holding a citizen's history.
pub fn list(id: &PersonalId) -> String {
    let mut name = String::with_capacity(8 + id.as_str().len());
    name.push_str("history:");
    name.push_str(id.as_str());
    name
}

pub async fn record(
    store: &SharedStore,
    id: &PersonalId,
    entry: &UsageEntry,
) -> Result<(), StoreError> {
    store.list_push(&list(id), encode(entry)?).await.map(|_| ())
}

/// The most recent entries, newest first.
pub async fn recent(
    store: &SharedStore,
    id: &PersonalId,
    limit: usize,
) -> Result<Vec<UsageEntry>, StoreError> {
    crate::store::newest(store.as_ref(), &list(id), limit).await
}
