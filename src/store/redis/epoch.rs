//! The restore fence: what the gateway does when its Redis may have forgotten writes.
//!
//! A replay marker lost in a crash (`appendfsync everysec` loses up to a second) or rolled back
//! by restoring an older snapshot would let a used token verify again. Every such loss comes with
//! a new Redis process (a restart, a restore, a promoted replica), and every new process has a
//! new `run_id`. So each new connection reads the server's `run_id` and compares it with the
//! **store epoch** kept in Redis itself: the same `run_id` means the same process, nothing lost;
//! another one — or no epoch at all where data once was — means a new incarnation, and a fence
//! at this moment. Tokens, codes and refresh tokens issued before the fence are then refused
//! ([`crate::store::Store::restore_fence`]); the citizen presents again.
//!
//! The epoch is written by a script, so of several gateways noticing the same restart the first
//! sets the fence and the others adopt it.
//!
//! On a cluster every primary is its own process and any of them may fail over to a replica
//! that had not received its last writes; the incarnation there is the set of the primaries'
//! `run_id`s, so a promoted replica (or a primary restarted empty) raises the fence just the same.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use redis::cluster_routing::{MultipleNodeRoutingInfo, RoutingInfo};
use redis::{Script, Value};

use super::connection::{Handle, unavailable};
use crate::clock::{SharedClock, Timestamp};
use crate::store::StoreError;

/// KEYS: the epoch, the audit log's head (proof the store held data before). ARGV: the server's
/// run_id, now (ms), the run_id this process last saw ('' if none). Answers the epoch as
/// `run_id|fence_ms|reason`, where reason is `same` (unchanged), `new` (a store that never held
/// data: no fence), `restarted` or `lost` (a fence now).
const EPOCH: &str = r"
local v = redis.call('GET', KEYS[1])
if v then
  local p = string.find(v, '|', 1, true)
  if p and string.sub(v, 1, p - 1) == ARGV[1] then return v .. '|same' end
  local n = ARGV[1] .. '|' .. ARGV[2]
  redis.call('SET', KEYS[1], n)
  return n .. '|restarted'
end
if ARGV[3] ~= '' or redis.call('EXISTS', KEYS[2]) == 1 then
  local n = ARGV[1] .. '|' .. ARGV[2]
  redis.call('SET', KEYS[1], n)
  return n .. '|lost'
end
local n = ARGV[1] .. '|0'
redis.call('SET', KEYS[1], n)
return n .. '|new'
";

pub(super) struct Fence {
    script: Script,
    clock: SharedClock,
    epoch_key: String,
    evidence_key: String,
    /// The fence in force (ms; 0: none).
    fence_ms: AtomicI64,
    /// The `run_id` of the Redis process this gateway last talked to.
    seen_run_id: Mutex<String>,
    warned_persistence: AtomicBool,
}

fn run_id_of(info: &str) -> Option<&str> {
    info.lines()
        .find_map(|l| l.strip_prefix("run_id:"))
        .map(str::trim)
        .filter(|id| !id.is_empty())
}

impl Fence {
    pub(super) fn new(clock: SharedClock, epoch_key: String, evidence_key: String) -> Self {
        Self {
            script: Script::new(EPOCH),
            clock,
            epoch_key,
            evidence_key,
            fence_ms: AtomicI64::new(0),
            seen_run_id: Mutex::new(String::new()),
            warned_persistence: AtomicBool::new(false),
        }
    }

    /// The fence in force, if any.
    pub(super) fn current(&self) -> Option<Timestamp> {
        match self.fence_ms.load(Ordering::SeqCst) {
            0 => None,
            ms => Some(Timestamp::from_millis(ms)),
        }
    }

    /// Runs on every new connection, before anything else may use it.
    pub(super) async fn handshake(&self, mut conn: Handle) -> Result<(), StoreError> {
        let run_id = incarnation(&mut conn).await?;
        let seen = self
            .seen_run_id
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let now = self.clock.now();
        let answer: String = self
            .script
            .key(&self.epoch_key)
            .key(&self.evidence_key)
            .arg(&run_id)
            .arg(now.millis())
            .arg(&seen)
            .invoke_async(&mut conn)
            .await
            .map_err(|e| unavailable(&e))?;
        let mut parts = answer.split('|');
        let (_, fence, reason) = (parts.next(), parts.next(), parts.next());
        let fence_ms: i64 = fence
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| StoreError::Corrupt(format!("store epoch `{answer}`")))?;
        self.fence_ms.fetch_max(fence_ms, Ordering::SeqCst);
        *self.seen_run_id.lock().unwrap_or_else(|p| p.into_inner()) = run_id;
        match reason {
            Some("restarted") | Some("lost") => tracing::warn!(
                reason,
                fence_ms,
                "Redis restarted, failed over or was restored: presentation tokens, codes and refresh tokens issued before now are refused"
            ),
            Some("same") if fence_ms > 0 && seen.is_empty() => {
                tracing::info!(fence_ms, "a restore fence is in force")
            }
            _ => {}
        }
        self.check_persistence(&mut conn).await;
        Ok(())
    }

    /// Says once, loudly, when Redis may lose acknowledged writes in a crash.
    async fn check_persistence(&self, conn: &mut Handle) {
        if self.warned_persistence.load(Ordering::Relaxed) {
            return;
        }
        let mut get = redis::cmd("CONFIG");
        get.arg("GET").arg("append*");
        // On a cluster, every primary's own settings (CONFIG is often renamed away on managed
        // Redis: then nothing is said, and the fence still protects).
        let configs: Vec<Vec<String>> = match conn {
            Handle::Single(c) => match get.query_async(c).await {
                Ok(config) => vec![config],
                Err(_) => return,
            },
            Handle::Cluster(c) => {
                let all = RoutingInfo::MultiNode((MultipleNodeRoutingInfo::AllMasters, None));
                let Ok(Value::Map(answers)) = c.route_command(get, all).await else {
                    return;
                };
                answers
                    .into_iter()
                    .filter_map(|(_, v)| redis::from_redis_value(v).ok())
                    .collect()
            }
        };
        let value = |name: &str| {
            let mut seen: Vec<String> = configs
                .iter()
                .map(|config| {
                    config
                        .chunks(2)
                        .find(|kv| kv.first().is_some_and(|k| k == name))
                        .and_then(|kv| kv.get(1).cloned())
                        .unwrap_or_default()
                })
                .collect();
            seen.sort();
            seen.dedup();
            seen.join(",")
        };
        let (aof, fsync) = (value("appendonly"), value("appendfsync"));
        if aof != "yes" || fsync != "always" {
            self.warned_persistence.store(true, Ordering::Relaxed);
            tracing::warn!(
                appendonly = %aof,
                appendfsync = %fsync,
                "Redis can lose acknowledged writes in a crash (run it with appendonly yes, appendfsync always); the restore fence then makes citizens present again"
            );
        }
    }
}

const NO_RUN_ID: &str = "Redis did not tell its run_id (INFO server): the gateway cannot notice a restart, so it does not use it";

/// Which server processes hold the data now: the `run_id` of the one Redis, or the sorted
/// `run_id`s of every primary of a cluster (a primary that does not answer fails the handshake:
/// the gateway does not start using a cluster it cannot fence).
async fn incarnation(conn: &mut Handle) -> Result<String, StoreError> {
    let mut info = redis::cmd("INFO");
    info.arg("server");
    match conn {
        Handle::Single(c) => {
            let text: String = info.query_async(c).await.map_err(|e| unavailable(&e))?;
            run_id_of(&text)
                .map(str::to_owned)
                .ok_or_else(|| StoreError::Unavailable(NO_RUN_ID.into()))
        }
        Handle::Cluster(c) => {
            let all = RoutingInfo::MultiNode((MultipleNodeRoutingInfo::AllMasters, None));
            let answers = c
                .route_command(info, all)
                .await
                .map_err(|e| unavailable(&e))?;
            primaries_run_ids(answers)
        }
    }
}

/// The per-node answers of `INFO server` sent to every primary, as one sorted `a,b,c`.
fn primaries_run_ids(answers: Value) -> Result<String, StoreError> {
    let pairs = match answers {
        Value::Map(pairs) => pairs,
        Value::Array(items) => items
            .into_iter()
            .filter_map(|item| match item {
                Value::Array(mut kv) if kv.len() == 2 => {
                    let v = kv.pop()?;
                    Some((kv.pop()?, v))
                }
                _ => None,
            })
            .collect(),
        other => {
            return Err(StoreError::Unavailable(format!(
                "the cluster answered INFO with {other:?}"
            )));
        }
    };
    let mut ids = Vec::with_capacity(pairs.len());
    for (_node, answer) in pairs {
        let text: String = redis::from_redis_value(answer).map_err(|e| {
            StoreError::Unavailable(format!("a cluster primary did not answer INFO: {e}"))
        })?;
        ids.push(
            run_id_of(&text)
                .map(str::to_owned)
                .ok_or_else(|| StoreError::Unavailable(NO_RUN_ID.into()))?,
        );
    }
    if ids.is_empty() {
        return Err(StoreError::Unavailable(
            "the cluster has no primary to answer".into(),
        ));
    }
    ids.sort();
    Ok(ids.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_run_id_is_read_from_info_server() {
        let info = "# Server\r\nredis_version:7.0.15\r\nrun_id:4c3b1a\r\ntcp_port:6379\r\n";
        assert_eq!(run_id_of(info), Some("4c3b1a"));
        assert_eq!(run_id_of("# Server\r\nrun_id:\r\n"), None);
        assert_eq!(run_id_of(""), None);
    }

    #[test]
    fn a_clusters_incarnation_is_every_primarys_run_id_in_order() {
        let node = |addr: &str, id: &str| {
            (
                Value::BulkString(addr.as_bytes().to_vec()),
                Value::BulkString(format!("# Server\r\nrun_id:{id}\r\n").into_bytes()),
            )
        };
        let answers = Value::Map(vec![node("b:7001", "ffff"), node("a:7000", "0aaa")]);
        assert_eq!(primaries_run_ids(answers).unwrap(), "0aaa,ffff");
        // A primary that does not answer fails the handshake.
        let broken = Value::Map(vec![
            node("a:7000", "0aaa"),
            (Value::BulkString(b"b:7001".to_vec()), Value::Nil),
        ]);
        assert!(primaries_run_ids(broken).is_err());
        assert!(primaries_run_ids(Value::Map(vec![])).is_err());
    }
}
