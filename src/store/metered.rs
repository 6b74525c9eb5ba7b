//! Latency and errors of every store operation, by backend: a decorator over any [`Store`], so
//! that each backend keeps only its own logic and none can forget to be measured.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use prometheus::{Histogram, IntCounter};

use super::{
    Log, LogHead, PutMode, Records, SharedStore, Store, StoreError, Table, Taken, WriteBatch,
};
use crate::clock::Timestamp;
use crate::telemetry::metrics::StoreMetrics;

/// The measured operations, in the order of [`Op::NAMES`].
#[derive(Clone, Copy)]
enum Op {
    Ping,
    CheckWritable,
    Get,
    GetMany,
    Put,
    InsertNew,
    PutMany,
    Delete,
    PutExpiring,
    GetExpiring,
    TakeExpiring,
    TakeOnce,
    Increment,
    CountRequest,
    ClaimAndAppend,
    LogHead,
    AppendLog,
    ReadLog,
    ListPush,
    WriteBatch,
    ListRange,
    SweepExpired,
}

impl Op {
    const NAMES: [&'static str; 22] = [
        "ping",
        "check_writable",
        "get",
        "get_many",
        "put",
        "insert_new",
        "put_many",
        "delete",
        "put_expiring",
        "get_expiring",
        "take_expiring",
        "take_once",
        "increment",
        "count_request",
        "claim_and_append",
        "log_head",
        "append_log",
        "read_log",
        "list_push",
        "write_batch",
        "list_range",
        "sweep_expired",
    ];
}

pub struct MeteredStore {
    inner: SharedStore,
    /// Resolved once per operation: a request pays a clock read and an atomic add, not a
    /// label lookup.
    latency: Vec<Histogram>,
    errors: Vec<IntCounter>,
}

impl MeteredStore {
    pub fn wrap(inner: SharedStore, metrics: &StoreMetrics) -> SharedStore {
        let backend = inner.backend();
        let latency = Op::NAMES
            .iter()
            .map(|op| metrics.latency.with_label_values(&[backend, op]))
            .collect();
        let errors = Op::NAMES
            .iter()
            .map(|op| metrics.errors.with_label_values(&[backend, op]))
            .collect();
        Arc::new(Self {
            inner,
            latency,
            errors,
        })
    }

    async fn timed<T>(
        &self,
        op: Op,
        f: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let started = Instant::now();
        let result = f.await;
        self.latency[op as usize].observe(started.elapsed().as_secs_f64());
        if result.is_err() {
            self.errors[op as usize].inc();
        }
        result
    }
}

#[async_trait]
impl Store for MeteredStore {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }
    async fn ping(&self) -> Result<(), StoreError> {
        self.timed(Op::Ping, self.inner.ping()).await
    }
    async fn check_writable(&self, now: Timestamp) -> Result<(), StoreError> {
        self.timed(Op::CheckWritable, self.inner.check_writable(now))
            .await
    }
    async fn get(&self, table: Table, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.timed(Op::Get, self.inner.get(table, key)).await
    }
    async fn get_many(&self, table: Table, keys: &[&str]) -> Result<Records, StoreError> {
        self.timed(Op::GetMany, self.inner.get_many(table, keys))
            .await
    }
    async fn put(&self, table: Table, key: &str, value: Vec<u8>) -> Result<(), StoreError> {
        self.timed(Op::Put, self.inner.put(table, key, value)).await
    }
    async fn insert_new(
        &self,
        table: Table,
        key: &str,
        value: Vec<u8>,
    ) -> Result<bool, StoreError> {
        self.timed(Op::InsertNew, self.inner.insert_new(table, key, value))
            .await
    }
    async fn put_many(
        &self,
        table: Table,
        entries: Vec<(String, Vec<u8>)>,
    ) -> Result<(), StoreError> {
        self.timed(Op::PutMany, self.inner.put_many(table, entries))
            .await
    }
    async fn delete(&self, table: Table, key: &str) -> Result<bool, StoreError> {
        self.timed(Op::Delete, self.inner.delete(table, key)).await
    }
    async fn put_expiring(
        &self,
        key: &str,
        value: Vec<u8>,
        expires_at: Timestamp,
        mode: PutMode,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.timed(
            Op::PutExpiring,
            self.inner.put_expiring(key, value, expires_at, mode, now),
        )
        .await
    }
    async fn get_expiring(&self, key: &str, now: Timestamp) -> Result<Option<Vec<u8>>, StoreError> {
        self.timed(Op::GetExpiring, self.inner.get_expiring(key, now))
            .await
    }
    async fn take_expiring(
        &self,
        key: &str,
        now: Timestamp,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        self.timed(Op::TakeExpiring, self.inner.take_expiring(key, now))
            .await
    }
    async fn take_once(
        &self,
        key: &str,
        used_key: &str,
        mark: Vec<u8>,
        mark_expires: Timestamp,
        now: Timestamp,
    ) -> Result<Taken, StoreError> {
        self.timed(
            Op::TakeOnce,
            self.inner.take_once(key, used_key, mark, mark_expires, now),
        )
        .await
    }
    async fn increment(
        &self,
        key: &str,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        self.timed(Op::Increment, self.inner.increment(key, expires_at, now))
            .await
    }
    async fn count_request(
        &self,
        key: &str,
        amount: u64,
        window_end: Timestamp,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        self.timed(
            Op::CountRequest,
            self.inner.count_request(key, amount, window_end, now),
        )
        .await
    }
    async fn claim_and_append(
        &self,
        marker: &str,
        marker_expires: Timestamp,
        list: &str,
        entry: Vec<u8>,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.timed(
            Op::ClaimAndAppend,
            self.inner
                .claim_and_append(marker, marker_expires, list, entry, now),
        )
        .await
    }
    async fn log_head(&self, log: Log) -> Result<Option<LogHead>, StoreError> {
        self.timed(Op::LogHead, self.inner.log_head(log)).await
    }
    async fn append_log(
        &self,
        log: Log,
        entry: Vec<u8>,
        head: LogHead,
    ) -> Result<bool, StoreError> {
        self.timed(Op::AppendLog, self.inner.append_log(log, entry, head))
            .await
    }
    async fn read_log(
        &self,
        log: Log,
        from_seq: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        self.timed(Op::ReadLog, self.inner.read_log(log, from_seq, limit))
            .await
    }
    async fn list_push(&self, list: &str, value: Vec<u8>) -> Result<u64, StoreError> {
        self.timed(Op::ListPush, self.inner.list_push(list, value))
            .await
    }
    async fn write_batch(&self, batch: WriteBatch) -> Result<(), StoreError> {
        self.timed(Op::WriteBatch, self.inner.write_batch(batch))
            .await
    }
    async fn list_range(
        &self,
        list: &str,
        from: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        self.timed(Op::ListRange, self.inner.list_range(list, from, limit))
            .await
    }
    fn restore_fence(&self) -> Option<Timestamp> {
        self.inner.restore_fence()
    }
    fn checkpoints(&self) -> super::Checkpoints {
        self.inner.checkpoints()
    }
    fn reconnects(&self) -> u64 {
        self.inner.reconnects()
    }
    async fn sweep_expired(&self, now: Timestamp) -> Result<u64, StoreError> {
        self.timed(Op::SweepExpired, self.inner.sweep_expired(now))
            .await
    }
}
