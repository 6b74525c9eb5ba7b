//! The browser's single sign-on session at the gateway: a random id in a `__Host-` cookie, the
//! session in the store under the id's hash. A login always creates a new id (no fixation); a
//! device change or lock of the account ends it, as it ends app sessions.

use std::collections::BTreeSet;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::secret_key;
use crate::accounts::Account;
use crate::challenges::random_token;
use crate::clock::Timestamp;
use crate::domain::{AuthLevel, AuthMethod, PersonalId, auth_level};
use crate::services::Services;
use crate::store::{PutMode, StoreError, Table, decode, encode};

/// The cookie's name; over https it carries the `__Host-` prefix (see `http::routes::oauth`).
pub const COOKIE: &str = "eid_sso";
pub const TTL: Duration = Duration::from_secs(8 * 3600);

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WebSession {
    pub personal_id: PersonalId,
    pub methods: BTreeSet<AuthMethod>,
    pub auth_time: Timestamp,
    pub epoch: u64,
    pub expires_at: Timestamp,
}

impl WebSession {
    pub fn auth_level(&self) -> AuthLevel {
        auth_level(&self.methods)
    }
}

/// Starts a session after a successful login; returns the cookie value.
pub async fn start(
    services: &Services,
    account: &Account,
    methods: BTreeSet<AuthMethod>,
) -> Result<String, StoreError> {
    let id = random_token()?;
    let now = services.clock.now();
    let session = WebSession {
        personal_id: account.personal_id.clone(),
        methods,
        auth_time: now,
        epoch: account.session_epoch,
        expires_at: now.plus(TTL),
    };
    services
        .store
        .put_expiring(
            &secret_key("web-session", &id),
            encode(&session)?,
            session.expires_at,
            PutMode::Overwrite,
            now,
        )
        .await?;
    Ok(id)
}

/// The live session behind a cookie value, with its account (still usable: not locked, same
/// session epoch).
pub async fn find(
    services: &Services,
    cookie: Option<&str>,
) -> Result<Option<(WebSession, Account)>, StoreError> {
    let Some(id) = cookie else { return Ok(None) };
    let now = services.clock.now();
    let Some(raw) = services
        .store
        .get_expiring(&secret_key("web-session", id), now)
        .await?
    else {
        return Ok(None);
    };
    let session: WebSession = decode(Table::Meta, &raw)?;
    let Some(account) = services.accounts.get(&session.personal_id).await? else {
        return Ok(None);
    };
    if account.is_locked() || account.session_epoch != session.epoch {
        return Ok(None);
    }
    Ok(Some((session, account)))
}

/// Ends the session behind a cookie value.
pub async fn end(services: &Services, cookie: &str) -> Result<(), StoreError> {
    let now = services.clock.now();
    services
        .store
        .take_expiring(&secret_key("web-session", cookie), now)
        .await?;
    Ok(())
}
