//! A store that records every operation it is asked for, before handing it to the real one:
//! tests compare the work different requests do (a registry match and a decoy must do the
//! same). Appends to the dev SMS outbox can be held back, to show an answer did not wait for
//! them.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use eid_gateway::clock::Timestamp;
use eid_gateway::store::{
    Log, LogHead, PutMode, Records, SharedStore, Store, StoreError, Table, Taken, WriteBatch,
};

#[derive(Default)]
pub struct Journal {
    ops: Mutex<Vec<String>>,
    /// While closed, appends to `sms:` lists wait.
    sms_gate: tokio::sync::RwLock<()>,
}

impl Journal {
    /// Everything recorded since the last call, sorted (concurrent operations may interleave).
    pub fn take(&self) -> Vec<String> {
        let mut ops = std::mem::take(&mut *self.ops.lock().unwrap());
        ops.sort();
        ops
    }

    /// Holds SMS outbox appends until the guard is dropped.
    pub async fn hold_sms(&self) -> tokio::sync::RwLockWriteGuard<'_, ()> {
        self.sms_gate.write().await
    }

    fn note(&self, op: String) {
        self.ops.lock().unwrap().push(op);
    }
}

pub struct CountingStore {
    inner: SharedStore,
    journal: Arc<Journal>,
}

impl CountingStore {
    pub fn wrap(inner: SharedStore, journal: Arc<Journal>) -> SharedStore {
        Arc::new(Self { inner, journal })
    }
}

/// The kind of key, without the secret or random part: `registration:abc` → `registration`.
fn kind(key: &str) -> &str {
    key.split(':').next().unwrap_or(key)
}

#[async_trait]
impl Store for CountingStore {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }
    async fn ping(&self) -> Result<(), StoreError> {
        self.inner.ping().await
    }
    async fn check_writable(&self, now: Timestamp) -> Result<(), StoreError> {
        self.inner.check_writable(now).await
    }
    async fn get(&self, table: Table, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.journal.note(format!("get {}", table.name()));
        self.inner.get(table, key).await
    }
    async fn get_many(&self, table: Table, keys: &[&str]) -> Result<Records, StoreError> {
        self.journal.note(format!("get_many {}", table.name()));
        self.inner.get_many(table, keys).await
    }
    async fn put(&self, table: Table, key: &str, value: Vec<u8>) -> Result<(), StoreError> {
        self.journal.note("put".into());
        self.inner.put(table, key, value).await
    }
    async fn insert_new(
        &self,
        table: Table,
        key: &str,
        value: Vec<u8>,
    ) -> Result<bool, StoreError> {
        self.journal.note(format!("insert_new {}", table.name()));
        self.inner.insert_new(table, key, value).await
    }
    async fn put_many(
        &self,
        table: Table,
        entries: Vec<(String, Vec<u8>)>,
    ) -> Result<(), StoreError> {
        self.journal.note(format!("put_many {}", table.name()));
        self.inner.put_many(table, entries).await
    }
    async fn delete(&self, table: Table, key: &str) -> Result<bool, StoreError> {
        self.journal.note(format!("delete {}", table.name()));
        self.inner.delete(table, key).await
    }
    async fn put_expiring(
        &self,
        key: &str,
        value: Vec<u8>,
        expires_at: Timestamp,
        mode: PutMode,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.journal.note(format!("put_expiring {}", kind(key)));
        self.inner
            .put_expiring(key, value, expires_at, mode, now)
            .await
    }
    async fn get_expiring(&self, key: &str, now: Timestamp) -> Result<Option<Vec<u8>>, StoreError> {
        self.journal.note(format!("get_expiring {}", kind(key)));
        self.inner.get_expiring(key, now).await
    }
    async fn take_expiring(
        &self,
        key: &str,
        now: Timestamp,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        self.journal.note(format!("take_expiring {}", kind(key)));
        self.inner.take_expiring(key, now).await
    }
    async fn take_once(
        &self,
        key: &str,
        used_key: &str,
        mark: Vec<u8>,
        mark_expires: Timestamp,
        now: Timestamp,
    ) -> Result<Taken, StoreError> {
        self.journal.note(format!("take_once {}", kind(key)));
        self.inner
            .take_once(key, used_key, mark, mark_expires, now)
            .await
    }
    async fn increment(
        &self,
        key: &str,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        self.journal.note(format!("increment {}", kind(key)));
        self.inner.increment(key, expires_at, now).await
    }
    async fn count_request(
        &self,
        key: &str,
        amount: u64,
        window_end: Timestamp,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        self.journal.note(format!("count_request {}", kind(key)));
        self.inner.count_request(key, amount, window_end, now).await
    }
    async fn claim_and_append(
        &self,
        marker: &str,
        marker_expires: Timestamp,
        list: &str,
        entry: Vec<u8>,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.journal
            .note(format!("claim_and_append {}", kind(marker)));
        self.inner
            .claim_and_append(marker, marker_expires, list, entry, now)
            .await
    }
    async fn log_head(&self, log: Log) -> Result<Option<LogHead>, StoreError> {
        self.journal.note("log_head".into());
        self.inner.log_head(log).await
    }
    async fn append_log(
        &self,
        log: Log,
        entry: Vec<u8>,
        head: LogHead,
    ) -> Result<bool, StoreError> {
        self.journal.note("append_log".into());
        self.inner.append_log(log, entry, head).await
    }
    async fn read_log(
        &self,
        log: Log,
        from_seq: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        self.journal.note("read_log".into());
        self.inner.read_log(log, from_seq, limit).await
    }
    async fn list_push(&self, list: &str, value: Vec<u8>) -> Result<u64, StoreError> {
        if kind(list) == "sms" {
            let _open = self.journal.sms_gate.read().await;
            self.journal.note("list_push sms".into());
            return self.inner.list_push(list, value).await;
        }
        self.journal.note(format!("list_push {}", kind(list)));
        self.inner.list_push(list, value).await
    }
    async fn write_batch(&self, batch: WriteBatch) -> Result<(), StoreError> {
        self.journal.note("write_batch".into());
        self.inner.write_batch(batch).await
    }
    async fn list_range(
        &self,
        list: &str,
        from: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        self.journal.note(format!("list_range {}", kind(list)));
        self.inner.list_range(list, from, limit).await
    }
    async fn sweep_expired(&self, now: Timestamp) -> Result<u64, StoreError> {
        self.inner.sweep_expired(now).await
    }
}
