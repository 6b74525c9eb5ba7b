//! Prometheus metrics: what an operator asks of an identity gateway (SPEC §8). How verifications
//! end, by reason (`/v1/verify` always answers 200, so HTTP status counts say nothing); why logins,
//! OTPs and step-ups fail; what was issued; how the store behaves; how old the signing key is;
//! and the standard `process_*` figures. One registry for the domain and the HTTP layer.
//!
//! Label values are always drawn from fixed sets (reason codes, route templates, operation
//! names), never from input, so the number of series stays bounded.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use prometheus::{
    Counter, Encoder, Gauge, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::clock::Timestamp;
use crate::store::Checkpoints;

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    pub http_requests: IntCounterVec,
    pub http_latency: HistogramVec,
    pub client_auth_failures: IntCounterVec,
    /// `outcome`: `valid`, or the reason code of an invalid token.
    pub verifications: IntCounterVec,
    /// `channel` (`app`, `web`) and `reason`.
    pub login_failures: IntCounterVec,
    /// `flow` (`registration`, `web-login`, …) and `reason` (`invalid`, `too_many_attempts`).
    pub otp_failures: IntCounterVec,
    /// `reason`: the error code the citizen's app received.
    pub step_up_failures: IntCounterVec,
    /// `level` of the account the presentation token carries.
    pub presentations_issued: IntCounterVec,
    /// `grant_type` of the token request that issued them.
    pub tokens_issued: IntCounterVec,
    pub store: StoreMetrics,
    redis_reconnects: IntCounter,
    /// The last reconnect count folded into `redis_reconnects` (the store counts; this follows).
    reconnects_seen: Arc<AtomicU64>,
    signing_key_age: IntGaugeVec,
    signing_key_generation: IntGauge,
    checkpoints: CheckpointMetrics,
}

/// The embedded store's checkpoints, folded in from the store's own figures at each scrape.
#[derive(Clone)]
struct CheckpointMetrics {
    count: IntCounter,
    seconds: Counter,
    last_seconds: Gauge,
    /// The store's figures at the last scrape (the counters follow them).
    seen: Arc<std::sync::Mutex<Checkpoints>>,
}

impl CheckpointMetrics {
    fn new(registry: &Registry) -> prometheus::Result<Self> {
        let count = registered(
            registry,
            IntCounter::new(
                "eidgw_store_checkpoints_total",
                "Checkpoints of the embedded store: durable commits every write waits behind",
            )?,
        )?;
        let seconds = registered(
            registry,
            Counter::new(
                "eidgw_store_checkpoint_seconds_total",
                "Time the embedded store's checkpoints took, together",
            )?,
        )?;
        let last_seconds = registered(
            registry,
            Gauge::new(
                "eidgw_store_checkpoint_last_seconds",
                "Time the embedded store's most recent checkpoint took",
            )?,
        )?;
        Ok(Self {
            count,
            seconds,
            last_seconds,
            seen: Arc::default(),
        })
    }

    fn follow(&self, now: Checkpoints) {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        // The store's figures only grow: fold in what is new since the last scrape.
        if now.count > seen.count {
            self.count.inc_by(now.count - seen.count);
            self.seconds
                .inc_by(now.total.saturating_sub(seen.total).as_secs_f64());
            self.last_seconds.set(now.last.as_secs_f64());
            *seen = now;
        }
    }
}

/// Latency and failures of every store operation, by backend and operation.
#[derive(Clone)]
pub struct StoreMetrics {
    pub latency: HistogramVec,
    pub errors: IntCounterVec,
}

/// What only the moment of a scrape knows: read from the store and the keyring then.
pub struct Snapshot<'a> {
    pub redis_reconnects: u64,
    pub active_kid: &'a str,
    pub active_key_created_at: Timestamp,
    pub keyring_generation: u64,
    pub checkpoints: Checkpoints,
    pub now: Timestamp,
}

fn counter(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> prometheus::Result<IntCounterVec> {
    registered(registry, IntCounterVec::new(Opts::new(name, help), labels)?)
}

/// `metric`, registered: the registry keeps one handle, the caller the other.
fn registered<M: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    metric: M,
) -> prometheus::Result<M> {
    registry.register(Box::new(metric.clone()))?;
    Ok(metric)
}

const LATENCY_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

impl Metrics {
    pub fn new() -> prometheus::Result<Self> {
        let registry = Registry::new();
        #[cfg(target_os = "linux")]
        registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;
        let http_requests = counter(
            &registry,
            "eidgw_http_requests_total",
            "HTTP requests by route template, method and status",
            &["method", "route", "status"],
        )?;
        let http_latency = registered(
            &registry,
            HistogramVec::new(
                HistogramOpts::new(
                    "eidgw_http_request_duration_seconds",
                    "HTTP request latency by route template",
                )
                .buckets(LATENCY_BUCKETS.to_vec()),
                &["method", "route"],
            )?,
        )?;
        let store_latency = registered(
            &registry,
            HistogramVec::new(
                HistogramOpts::new(
                    "eidgw_store_operation_duration_seconds",
                    "Store operation latency by backend and operation",
                )
                .buckets(LATENCY_BUCKETS.to_vec()),
                &["backend", "operation"],
            )?,
        )?;
        let redis_reconnects = registered(
            &registry,
            IntCounter::new(
                "eidgw_redis_reconnects_total",
                "New Redis connections made after the first (each one follows a broken connection)",
            )?,
        )?;
        let signing_key_age = registered(
            &registry,
            IntGaugeVec::new(
                Opts::new(
                    "eidgw_signing_key_age_seconds",
                    "Age of the active token-signing key (rotate before it grows old)",
                ),
                &["kid"],
            )?,
        )?;
        let signing_key_generation = registered(
            &registry,
            IntGauge::new(
                "eidgw_keyring_generation",
                "Generation of the loaded keyring (it grows with every rotation)",
            )?,
        )?;
        let checkpoints = CheckpointMetrics::new(&registry)?;
        Ok(Self {
            client_auth_failures: counter(
                &registry,
                "eidgw_client_authentication_failures_total",
                "Relying-party authentication failures by reason",
                &["reason"],
            )?,
            verifications: counter(
                &registry,
                "eidgw_verifications_total",
                "Presentation-token verifications by outcome: valid, or the reason code",
                &["outcome"],
            )?,
            login_failures: counter(
                &registry,
                "eidgw_login_failures_total",
                "Refused citizen logins by channel (app, web) and reason",
                &["channel", "reason"],
            )?,
            otp_failures: counter(
                &registry,
                "eidgw_otp_failures_total",
                "Refused SMS one-time codes by flow and reason",
                &["flow", "reason"],
            )?,
            step_up_failures: counter(
                &registry,
                "eidgw_step_up_failures_total",
                "Refused session step-ups (passcode or face) by reason",
                &["reason"],
            )?,
            presentations_issued: counter(
                &registry,
                "eidgw_presentations_issued_total",
                "Presentation tokens issued, by account level",
                &["level"],
            )?,
            tokens_issued: counter(
                &registry,
                "eidgw_tokens_issued_total",
                "OAuth token responses issued, by grant type",
                &["grant_type"],
            )?,
            store: StoreMetrics {
                latency: store_latency,
                errors: counter(
                    &registry,
                    "eidgw_store_errors_total",
                    "Failed store operations by backend and operation",
                    &["backend", "operation"],
                )?,
            },
            http_requests,
            http_latency,
            redis_reconnects,
            reconnects_seen: Arc::new(AtomicU64::new(0)),
            signing_key_age,
            signing_key_generation,
            checkpoints,
            registry,
        })
    }

    pub fn verification(&self, outcome: &str) {
        self.verifications.with_label_values(&[outcome]).inc();
    }

    pub fn login_failure(&self, channel: &str, reason: &str) {
        self.login_failures
            .with_label_values(&[channel, reason])
            .inc();
    }

    /// `purpose` is the OTP's purpose key (`web-login:<id>`): only its kind becomes a label.
    pub fn otp_failure(&self, purpose: &str, reason: &str) {
        let flow = purpose.split(':').next().unwrap_or("other");
        self.otp_failures.with_label_values(&[flow, reason]).inc();
    }

    pub fn step_up_failure(&self, reason: &str) {
        self.step_up_failures.with_label_values(&[reason]).inc();
    }

    /// The text exposition format, with the scrape-time figures brought up to date first.
    pub fn render(&self, now: Snapshot<'_>) -> String {
        let seen = self
            .reconnects_seen
            .fetch_max(now.redis_reconnects, Ordering::AcqRel);
        if now.redis_reconnects > seen {
            self.redis_reconnects.inc_by(now.redis_reconnects - seen);
        }
        // One series: the active key (a rotation replaces it).
        self.signing_key_age.reset();
        self.signing_key_age
            .with_label_values(&[now.active_kid])
            .set(now.active_key_created_at.until(now.now).as_secs() as i64);
        self.signing_key_generation
            .set(i64::try_from(now.keyring_generation).unwrap_or(i64::MAX));
        self.checkpoints.follow(now.checkpoints);
        let mut buf = Vec::new();
        if let Err(err) = TextEncoder::new().encode(&self.registry.gather(), &mut buf) {
            tracing::error!(%err, "cannot encode the metrics");
        }
        String::from_utf8(buf).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn series(m: &Metrics, name: &str) -> f64 {
        // Copied out first: the guard must be gone before `render` takes the lock.
        let seen = *m.checkpoints.seen.lock().unwrap();
        let text = m.render(Snapshot {
            redis_reconnects: 0,
            active_kid: "k",
            active_key_created_at: Timestamp::from_secs(0),
            keyring_generation: 1,
            checkpoints: seen,
            now: Timestamp::from_secs(0),
        });
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap()
    }

    #[test]
    fn checkpoint_figures_are_folded_in_once() {
        let m = Metrics::new().unwrap();
        let mut store = Checkpoints::default();
        store.record(Duration::from_millis(20));
        store.record(Duration::from_millis(5));
        m.checkpoints.follow(store);
        // The same figures again (another scrape): nothing more.
        m.checkpoints.follow(store);
        assert_eq!(series(&m, "eidgw_store_checkpoints_total"), 2.0);
        assert!((series(&m, "eidgw_store_checkpoint_seconds_total") - 0.025).abs() < 1e-9);
        assert!((series(&m, "eidgw_store_checkpoint_last_seconds") - 0.005).abs() < 1e-9);
        store.record(Duration::from_millis(7));
        m.checkpoints.follow(store);
        assert_eq!(series(&m, "eidgw_store_checkpoints_total"), 3.0);
        assert!((series(&m, "eidgw_store_checkpoint_seconds_total") - 0.032).abs() < 1e-9);
        assert!((series(&m, "eidgw_store_checkpoint_last_seconds") - 0.007).abs() < 1e-9);
    }
}
