//! Pairwise subject identifiers (OpenID Connect Core §8.1): a different, stable `sub` per
//! relying-party sector, so two sectors cannot correlate a citizen by `sub`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::domain::PersonalId;
use crate::keys::PairwiseSecret;
use crate::store::{SharedStore, StoreError, Table};

/// HMAC-SHA256(secret, sector ‖ 0 ‖ personal id), base64url.
pub fn subject(secret: &PairwiseSecret, sector: &str, id: &PersonalId) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.expose()) {
        Ok(m) => m,
        Err(_) => return String::new(), // HMAC takes keys of any length; unreachable.
    };
    mac.update(sector.as_bytes());
    mac.update(&[0]);
    mac.update(id.as_str().as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

fn key(sector: &str, sub: &str) -> String {
    format!("{sector}\n{sub}")
}

/// Remembers which citizen a pairwise subject stands for (the gateway must resolve it back when
/// a relying party verifies a token).
pub async fn remember(
    store: &SharedStore,
    sector: &str,
    sub: &str,
    id: &PersonalId,
) -> Result<(), StoreError> {
    store
        .insert_new(
            Table::Subjects,
            &key(sector, sub),
            id.as_str().as_bytes().to_vec(),
        )
        .await
        .map(|_| ())
}

pub async fn resolve(
    store: &SharedStore,
    sector: &str,
    sub: &str,
) -> Result<Option<PersonalId>, StoreError> {
    Ok(store
        .get(Table::Subjects, &key(sector, sub))
        .await?
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| PersonalId::parse(&s).ok()))
}

/// The subject → citizen directory with an in-process cache. The mapping never changes (a
/// subject is an HMAC of the sector and the id), so a cached answer is never stale.
#[derive(Clone)]
pub struct SubjectDirectory {
    store: SharedStore,
    cache: std::sync::Arc<std::sync::RwLock<std::collections::HashMap<String, PersonalId>>>,
}

/// Entries kept before the cache starts over: bounds its memory (a few MiB) at any scale.
const CACHE_LIMIT: usize = 50_000;

impl SubjectDirectory {
    pub fn new(store: SharedStore) -> Self {
        Self {
            store,
            cache: Default::default(),
        }
    }

    fn cache(&self, k: String, id: &PersonalId) {
        if let Ok(mut c) = self.cache.write() {
            if c.len() >= CACHE_LIMIT {
                c.clear();
            }
            c.insert(k, id.clone());
        }
    }

    pub async fn remember(
        &self,
        sector: &str,
        sub: &str,
        id: &PersonalId,
    ) -> Result<(), StoreError> {
        let k = key(sector, sub);
        if self.cache.read().is_ok_and(|c| c.contains_key(&k)) {
            return Ok(());
        }
        remember(&self.store, sector, sub, id).await?;
        self.cache(k, id);
        Ok(())
    }

    pub async fn resolve(&self, sector: &str, sub: &str) -> Result<Option<PersonalId>, StoreError> {
        let k = key(sector, sub);
        if let Some(id) = self.cache.read().ok().and_then(|c| c.get(&k).cloned()) {
            return Ok(Some(id));
        }
        let found = resolve(&self.store, sector, sub).await?;
        if let Some(id) = &found {
            self.cache(k, id);
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_are_stable_per_sector_and_differ_across_sectors() {
        let dir = tempfile::tempdir().unwrap();
        let keys = crate::keys::KeyDir::new(dir.path());
        keys.init(
            crate::keys::Origin::Dev,
            crate::clock::Timestamp::from_secs(0),
        )
        .unwrap();
        let secret = keys.pairwise_secret().unwrap();
        let id = PersonalId::parse("001085000123").unwrap();
        let other = PersonalId::parse("001085000124").unwrap();
        assert_eq!(
            subject(&secret, "bank.vn", &id),
            subject(&secret, "bank.vn", &id)
        );
        assert_ne!(
            subject(&secret, "bank.vn", &id),
            subject(&secret, "air.vn", &id)
        );
        assert_ne!(
            subject(&secret, "bank.vn", &id),
            subject(&secret, "bank.vn", &other)
        );
        assert!(!subject(&secret, "bank.vn", &id).contains("001085000123"));
    }
}
