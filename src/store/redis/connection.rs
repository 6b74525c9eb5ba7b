//! One multiplexed connection to Redis, made again when it breaks — and checked before use.
//!
//! redis-rs's connection manager reconnects by itself, silently; this gateway needs to know when
//! it does, because a new connection may reach a Redis that restarted and lost writes, or was
//! restored from an older snapshot. So connections are made here, and each new one runs the
//! restore-fence handshake ([`super::epoch`]) before any request may use it: no command reaches
//! a new server incarnation before the gateway has fenced off what it may have forgotten.
//!
//! While Redis is unreachable, calls fail fast with [`StoreError::Unavailable`] (a connection is
//! tried again at most every [`RETRY_PAUSE`]), and the first call after it returns succeeds, with
//! no restart.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, RedisError};

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
}

/// A connection handed to one call, with the generation it belongs to.
pub(super) struct Live {
    pub(super) conn: MultiplexedConnection,
    generation: u64,
}

pub(super) struct Connection {
    client: redis::Client,
    config: AsyncConnectionConfig,
    /// The connection in use and its generation (each new connection gets the next).
    current: Mutex<(u64, Option<MultiplexedConnection>)>,
    /// Held while connecting, so that one caller connects and the others wait for it.
    connecting: tokio::sync::Mutex<()>,
    last_attempt: Mutex<Option<Instant>>,
}

impl Connection {
    pub(super) fn new(client: redis::Client, config: AsyncConnectionConfig) -> Self {
        Self {
            client,
            config,
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
        F: FnOnce(MultiplexedConnection) -> Fut,
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
        let conn = self
            .client
            .get_multiplexed_async_connection_with_config(&self.config)
            .await
            .map_err(|e| unavailable(&e))?;
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
