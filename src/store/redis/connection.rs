//! One multiplexed connection to Redis (or one cluster connection to all its primaries), made
//! again when it breaks — and checked before use.
//!
//! redis-rs's connection manager reconnects by itself, silently; this gateway needs to know when
//! it does, because a new connection may reach a Redis that restarted and lost writes, or was
//! restored from an older snapshot. So connections are made here, and each new one runs the
//! restore-fence handshake ([`super::epoch`]) before any request may use it: no command reaches
//! a new server incarnation before the gateway has fenced off what it may have forgotten.
//!
//! A cluster connection holds one connection per node and follows the slot map. Its client is
//! built without retries, so an error from a failed or moved primary comes back here; the whole
//! cluster connection is then made again, and the handshake reads every primary's identity
//! before the first command runs.
//!
//! While Redis is unreachable, calls fail fast with [`StoreError::Unavailable`] (a connection is
//! tried again at most every [`RETRY_PAUSE`]), and the first call after it returns succeeds, with
//! no restart.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{
    MultipleNodeRoutingInfo, Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr,
};
use redis::{AsyncConnectionConfig, Cmd, Pipeline, RedisError, RedisFuture, Value};

use crate::store::StoreError;

/// The shortest time between two connection attempts while Redis is down: callers in between
/// get 503 at once instead of queueing behind a timeout.
pub(super) const RETRY_PAUSE: Duration = Duration::from_millis(200);

pub(super) fn unavailable(e: &RedisError) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

/// Errors after which the connection is not trusted any more.
fn breaks_connection(e: &RedisError) -> bool {
    e.is_io_error()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_timeout()
        || e.is_unrecoverable_error()
        // A cluster whose slots moved or whose primary is gone: the connection is made again
        // (with the slot map read afresh), and the handshake looks at the primaries anew.
        || e.is_cluster_error()
        || e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::MasterDown)
}

/// Where the connections go: one Redis, or a cluster whose client routes each key to its slot's
/// primary (and follows the cluster when slots move or a replica is promoted).
pub(super) enum Target {
    Single(redis::Client, AsyncConnectionConfig),
    Cluster(ClusterClient),
}

/// A connection to one Redis or to a whole cluster; every command runs through either alike.
#[derive(Clone)]
pub(super) enum Handle {
    Single(MultiplexedConnection),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Handle {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Handle::Single(c) => c.req_packed_command(cmd),
            Handle::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Handle::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Handle::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Handle::Single(c) => c.get_db(),
            Handle::Cluster(c) => c.get_db(),
        }
    }
}

impl Handle {
    /// Runs a keyless command (`WAIT`, `ROLE`) on the server that holds `key` — on a cluster,
    /// the primary of its slot — or, without a key, on every primary; answers each server's
    /// reply by its address.
    pub(super) async fn on_servers(
        &mut self,
        key: Option<&str>,
        cmd: &Cmd,
    ) -> Result<Vec<(String, Value)>, RedisError> {
        match self {
            Handle::Single(c) => Ok(vec![(String::new(), cmd.query_async(c).await?)]),
            Handle::Cluster(c) => {
                let routing = match key {
                    Some(key) => RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(
                        Route::with_key(key.as_bytes(), SlotAddr::Master),
                    )),
                    None => RoutingInfo::MultiNode((MultipleNodeRoutingInfo::AllMasters, None)),
                };
                let answer = c.route_command(cmd.clone(), routing).await?;
                Ok(match (key, answer) {
                    (None, Value::Map(pairs)) => pairs
                        .into_iter()
                        .map(|(addr, v)| {
                            let addr = redis::from_redis_value::<String>(addr).unwrap_or_default();
                            (addr, v)
                        })
                        .collect(),
                    (_, v) => vec![(String::new(), v)],
                })
            }
        }
    }
}

/// A connection handed to one call, with the generation it belongs to.
pub(super) struct Live {
    pub(super) conn: Handle,
    generation: u64,
}

pub(super) struct Connection {
    target: Target,
    /// The connection in use and its generation (each new connection gets the next).
    current: Mutex<(u64, Option<Handle>)>,
    /// Held while connecting, so that one caller connects and the others wait for it.
    connecting: tokio::sync::Mutex<()>,
    last_attempt: Mutex<Option<Instant>>,
}

impl Connection {
    pub(super) fn new(target: Target) -> Self {
        Self {
            target,
            current: Mutex::new((0, None)),
            connecting: tokio::sync::Mutex::new(()),
            last_attempt: Mutex::new(None),
        }
    }

    /// Connections made after the first: each follows a broken one.
    pub(super) fn reconnects(&self) -> u64 {
        let current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        current.0.saturating_sub(1)
    }

    fn live(&self) -> Option<Live> {
        let current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        current.1.as_ref().map(|conn| Live {
            conn: conn.clone(),
            generation: current.0,
        })
    }

    /// The live connection, or a new one that passed `handshake` first.
    pub(super) async fn get<F, Fut>(&self, handshake: F) -> Result<Live, StoreError>
    where
        F: FnOnce(Handle) -> Fut,
        Fut: std::future::Future<Output = Result<(), StoreError>>,
    {
        if let Some(live) = self.live() {
            return Ok(live);
        }
        let _connecting = self.connecting.lock().await;
        if let Some(live) = self.live() {
            return Ok(live);
        }
        {
            let mut last = self.last_attempt.lock().unwrap_or_else(|p| p.into_inner());
            if last.is_some_and(|t| t.elapsed() < RETRY_PAUSE) {
                return Err(StoreError::Unavailable(
                    "Redis is unreachable; retrying".into(),
                ));
            }
            *last = Some(Instant::now());
        }
        let conn = match &self.target {
            Target::Single(client, config) => Handle::Single(
                client
                    .get_multiplexed_async_connection_with_config(config)
                    .await
                    .map_err(|e| unavailable(&e))?,
            ),
            Target::Cluster(client) => Handle::Cluster(
                client
                    .get_async_connection()
                    .await
                    .map_err(|e| unavailable(&e))?,
            ),
        };
        handshake(conn.clone()).await?;
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        current.0 += 1;
        current.1 = Some(conn.clone());
        Ok(Live {
            conn,
            generation: current.0,
        })
    }

    /// Passes a command's outcome through, dropping the connection it ran on if the error says
    /// that connection broke (the next call connects again, handshake first).
    pub(super) fn check<T>(&self, live: &Live, r: Result<T, RedisError>) -> Result<T, StoreError> {
        r.map_err(|e| {
            if breaks_connection(&e) {
                let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
                if current.0 == live.generation {
                    current.1 = None;
                }
            }
            unavailable(&e)
        })
    }
}
