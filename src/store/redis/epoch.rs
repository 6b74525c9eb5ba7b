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

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use redis::Script;
use redis::aio::MultiplexedConnection;

use super::connection::unavailable;
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
    pub(super) async fn handshake(
        &self,
        mut conn: MultiplexedConnection,
    ) -> Result<(), StoreError> {
        let info: String = redis::cmd("INFO")
            .arg("server")
            .query_async(&mut conn)
            .await
            .map_err(|e| unavailable(&e))?;
        let Some(run_id) = run_id_of(&info).map(str::to_owned) else {
            return Err(StoreError::Unavailable(
                "Redis did not tell its run_id (INFO server): the gateway cannot notice a restart, so it does not use it".into(),
            ));
        };
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
    async fn check_persistence(&self, conn: &mut MultiplexedConnection) {
        if self.warned_persistence.load(Ordering::Relaxed) {
            return;
        }
        let config: Result<Vec<String>, _> = redis::cmd("CONFIG")
            .arg("GET")
            .arg("append*")
            .query_async(conn)
            .await;
        let Ok(config) = config else {
            // CONFIG is often renamed away on managed Redis; the fence still protects.
            return;
        };
        let value = |name: &str| {
            config
                .chunks(2)
                .find(|kv| kv.first().is_some_and(|k| k == name))
                .and_then(|kv| kv.get(1).cloned())
                .unwrap_or_default()
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
}
