//! Simulated SMS delivery and one-time passwords.
//!
//! In dev mode messages land in an outbox readable at `GET /dev/sms?phone=…` (and by the `sim`
//! commands); in production nothing is kept, since an OTP at rest is a secret. OTPs are 6 digits,
//! live 5 minutes, allow at most 5 attempts (counted atomically across instances) and are
//! single use; only their SHA-256 digest is stored.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::clock::{SharedClock, Timestamp};
use crate::domain::PhoneNumber;
use crate::store::{PutMode, SharedStore, StoreError, Table, decode, encode};

pub const OTP_TTL: Duration = Duration::from_secs(300);
/// How long an activation code from an in-person enrolment stays usable.
pub const ACTIVATION_TTL: Duration = Duration::from_secs(72 * 3600);
pub const OTP_MAX_ATTEMPTS: u64 = 5;

/// A message in the dev outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SmsMessage {
    pub at: i64,
    pub text: String,
}

#[derive(Clone)]
pub struct SmsOutbox {
    store: SharedStore,
    clock: SharedClock,
    /// Only dev mode keeps messages.
    keep: bool,
    /// Messages handed to [`SmsOutbox::send_later`] and not delivered yet.
    in_flight: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

/// How long a reader of the dev outbox waits for messages still on their way.
const DELIVERY_WAIT: Duration = Duration::from_secs(2);

impl SmsOutbox {
    pub fn new(store: SharedStore, clock: SharedClock, keep: bool) -> Self {
        Self {
            store,
            clock,
            keep,
            in_flight: Default::default(),
        }
    }

    /// Sends in the background, as a real SMS gateway's queue would: the caller answers without
    /// waiting, so whether a message was sent cannot show in its response time.
    pub fn send_later(&self, to: PhoneNumber, text: String) {
        use std::sync::atomic::Ordering;
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        let outbox = self.clone();
        tokio::spawn(async move {
            if let Err(e) = outbox.send(&to, text).await {
                tracing::error!(error = %e, to = %to.masked(), "SMS not delivered");
            }
            outbox.in_flight.fetch_sub(1, Ordering::SeqCst);
        });
    }

    fn list(phone: &PhoneNumber) -> String {
        format!("sms:{}", phone.as_str())
    }

    pub async fn send(&self, to: &PhoneNumber, text: String) -> Result<(), StoreError> {
        tracing::info!(to = %to.masked(), "SMS sent");
        if self.keep {
            let msg = SmsMessage {
                at: self.clock.now().secs(),
                text,
            };
            self.store.list_push(&Self::list(to), encode(&msg)?).await?;
        }
        Ok(())
    }

    /// The most recent messages to `phone`, newest first, once messages on their way have landed
    /// (within a moment).
    pub async fn messages(
        &self,
        phone: &PhoneNumber,
        limit: usize,
    ) -> Result<Vec<SmsMessage>, StoreError> {
        let waited = std::time::Instant::now();
        while self.in_flight.load(std::sync::atomic::Ordering::SeqCst) > 0
            && waited.elapsed() < DELIVERY_WAIT
        {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        crate::store::newest(self.store.as_ref(), &Self::list(phone), limit).await
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OtpError {
    /// Wrong code, or no live code (expired, used, never sent): indistinguishable on purpose.
    #[error("otp_invalid")]
    Invalid,
    #[error("otp_attempts_exceeded")]
    TooManyAttempts,
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Serialize, Deserialize)]
struct StoredOtp {
    digest: String,
}

#[derive(Clone)]
pub struct Otps {
    store: SharedStore,
    clock: SharedClock,
    metrics: crate::telemetry::Metrics,
}

fn digest(purpose: &str, code: &str) -> String {
    hex::encode(Sha256::digest(format!("{purpose}\n{code}").as_bytes()))
}

impl Otps {
    pub fn new(store: SharedStore, clock: SharedClock, metrics: crate::telemetry::Metrics) -> Self {
        Self {
            store,
            clock,
            metrics,
        }
    }

    fn key(purpose: &str) -> String {
        format!("otp:{purpose}")
    }

    fn attempts_key(purpose: &str) -> String {
        format!("otp-attempts:{purpose}")
    }

    /// A fresh 6-digit code for `purpose` (replacing any earlier one); the caller sends it.
    pub async fn issue(&self, purpose: &str) -> Result<String, StoreError> {
        self.issue_for(purpose, OTP_TTL).await
    }

    /// A fresh 6-digit code for `purpose` that lives `ttl` (e.g. an activation code handed over
    /// at an enrolment desk); five wrong tries use it up, as for an OTP.
    pub async fn issue_for(&self, purpose: &str, ttl: Duration) -> Result<String, StoreError> {
        let mut b = [0u8; 4];
        getrandom::fill(&mut b).map_err(|e| StoreError::Storage(e.to_string()))?;
        let code = format!("{:06}", u32::from_le_bytes(b) % 1_000_000);
        let now = self.clock.now();
        let expires = now.plus(ttl);
        let stored = StoredOtp {
            digest: digest(purpose, &code),
        };
        self.store
            .put_expiring(
                &Self::key(purpose),
                encode(&stored)?,
                expires,
                PutMode::Overwrite,
                now,
            )
            .await?;
        self.store
            .take_expiring(&Self::attempts_key(purpose), now)
            .await?;
        Ok(code)
    }

    /// Checks `code` without using it up; every call counts as an attempt.
    pub async fn check(&self, purpose: &str, code: &str) -> Result<(), OtpError> {
        let result = self.check_code(purpose, code).await;
        match &result {
            Err(OtpError::Invalid) => self.metrics.otp_failure(purpose, "invalid"),
            Err(OtpError::TooManyAttempts) => {
                self.metrics.otp_failure(purpose, "too_many_attempts")
            }
            _ => {}
        }
        result
    }

    async fn check_code(&self, purpose: &str, code: &str) -> Result<(), OtpError> {
        let now: Timestamp = self.clock.now();
        let attempts = self
            .store
            .increment(&Self::attempts_key(purpose), now.plus(ACTIVATION_TTL), now)
            .await?;
        if attempts > OTP_MAX_ATTEMPTS {
            self.store.take_expiring(&Self::key(purpose), now).await?;
            return Err(OtpError::TooManyAttempts);
        }
        let Some(raw) = self.store.get_expiring(&Self::key(purpose), now).await? else {
            return Err(OtpError::Invalid);
        };
        let stored: StoredOtp = decode(Table::Meta, &raw)?;
        let ok: bool = stored
            .digest
            .as_bytes()
            .ct_eq(digest(purpose, code).as_bytes())
            .into();
        if ok { Ok(()) } else { Err(OtpError::Invalid) }
    }

    /// Uses the code up (after [`Otps::check`] succeeded and the flow completed).
    pub async fn consume(&self, purpose: &str) -> Result<bool, StoreError> {
        let now = self.clock.now();
        Ok(self
            .store
            .take_expiring(&Self::key(purpose), now)
            .await?
            .is_some())
    }
}
